import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WrennConfig } from '@wrenn/config';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { EnvdAccessTokens } from './envd-access-tokens';

const A = 'sb_01jz0000000000000000000001';
const B = 'sb_01jz0000000000000000000002';

describe(EnvdAccessTokens.name, () => {
  let env: TestEnv;
  const tokens = async (secret = '') => {
    const t = new EnvdAccessTokens({ secret } as WrennConfig, env.nc, env.naming);
    await t.onApplicationBootstrap();
    return t;
  };

  before(async () => {
    env = await createTestEnv('tokens');
  });
  after(async () => {
    await env.cleanup();
  });

  it('derives one token per sandbox that any replica, before or after a restart, accepts', async () => {
    const first = await tokens();
    const second = await tokens();
    assert.equal(first.tokenFor(A), second.tokenFor(A), 'replicas share the generated secret through NATS KV');
    assert.notEqual(first.tokenFor(A), first.tokenFor(B));
    assert.ok(second.matches(A, first.tokenFor(A)));
    assert.ok(first.tokenFor(A).length >= 43, 'a full HMAC-SHA256, base64url');
  });

  it('refuses another sandbox\'s token, a tampered one and none at all', async () => {
    const t = await tokens();
    const token = t.tokenFor(A);
    assert.equal(t.matches(B, token), false);
    assert.equal(t.matches(A, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), false);
    assert.equal(t.matches(A, undefined), false);
    assert.equal(t.matches(A, ''), false);
  });

  it('uses WRENN_SECRET when set, so tokens do not depend on NATS', async () => {
    const fromEnv = await tokens('an operator-chosen secret of enough length');
    const generated = await tokens();
    assert.notEqual(fromEnv.tokenFor(A), generated.tokenFor(A));
    assert.equal(fromEnv.tokenFor(A), (await tokens('an operator-chosen secret of enough length')).tokenFor(A));
  });
});

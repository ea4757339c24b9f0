import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WrennConfig } from '@wrenn/config';
import { createLogger } from '@wrenn/logger';
import { HostTokenVerifier, verifyKeySource } from '@wrenn/service-kit';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { HostTokens } from './host-tokens';

const log = createLogger('test');
log.level = 'silent';
const SANDBOX = 'sb_01jz0000000000000000000001';
const OTHER = 'sb_01jz0000000000000000000002';
const THIRD = 'sb_01jz0000000000000000000003';

/** Host tokens reused per (host, sandbox), with the key in the real secrets bucket and an agent's real check. */
describe(HostTokens.name, () => {
  let env: TestEnv;
  let tokens: HostTokens;
  let agent: HostTokenVerifier;
  before(async () => {
    env = await createTestEnv('hosttokens');
    const config = { dataPlaneAuth: { tokenTtlSec: 60, clockSkewSec: 30 } } as WrennConfig;
    tokens = new HostTokens(config, env.nc, env.naming);
    await tokens.onApplicationBootstrap();
    agent = new HostTokenVerifier('host-a', verifyKeySource(env.nc, env.naming, undefined, log), config.dataPlaneAuth);
  });
  after(async () => env.cleanup());

  it('reuses one token per host and sandbox for half its lifetime, then mints a new one the agent accepts', async () => {
    const now = Date.now();
    const first = await tokens.token('host-a', SANDBOX, now);
    assert.equal(await tokens.token('host-a', SANDBOX, now + 29_000), first);
    const renewed = await tokens.token('host-a', SANDBOX, now + 31_000);
    assert.notEqual(renewed, first);
    await agent.verify(renewed, SANDBOX, now + 31_000);
    // The old token still lived out its own minute; the new one has a full minute from its renewal.
    await agent.verify(renewed, SANDBOX, now + 31_000 + 59_000);
  });

  it('never hands one sandbox or host the token of another', async () => {
    const a = await tokens.token('host-a', THIRD);
    const other = await tokens.token('host-a', OTHER);
    const elsewhere = await tokens.token('host-b', THIRD);
    assert.equal(new Set([a, other, elsewhere]).size, 3);
    await agent.verify(a, THIRD);
    await agent.verify(other, OTHER);
    await assert.rejects(agent.verify(other, THIRD), { code: 'host_token_wrong_sandbox' });
    await assert.rejects(agent.verify(elsewhere, THIRD), { code: 'host_token_wrong_host' });
  });

  it('mints afresh after a token was refused and forgotten', async () => {
    const before = await tokens.token('host-a', SANDBOX);
    tokens.forget('host-a', SANDBOX);
    assert.notEqual(await tokens.token('host-a', SANDBOX), before);
  });
});

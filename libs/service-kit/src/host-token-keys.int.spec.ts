import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@wrenn/logger';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { createPublicKey } from 'node:crypto';
import { generateHostTokenKeys, HostTokenErrorCode, HostTokenSigner, HostTokenVerifier } from './host-token';
import { HOST_TOKEN_SIGNING_KEY_ENTRY, loadSigningKey, verifyKeySource } from './host-token-keys';

const SANDBOX = 'sb_01jz0000000000000000000001';
const log = createLogger('test');
log.level = 'silent';

async function refusal(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => assert.fail('the token was accepted'),
    (e: { code?: string }) => String(e.code),
  );
}

describe('host token keys over NATS (gateway publishes, agents read)', () => {
  let env: TestEnv;
  before(async () => {
    env = await createTestEnv('hosttokkeys');
  });
  after(async () => {
    await env.cleanup();
  });

  it('an agent refuses everything until a gateway has published its key', async () => {
    const agent = new HostTokenVerifier('host-a', verifyKeySource(env.nc, env.naming, undefined, log));
    const token = await new HostTokenSigner(generateHostTokenKeys().privateKey).mint('host-a', SANDBOX);
    assert.equal(await refusal(agent.verify(token, SANDBOX)), HostTokenErrorCode.NoKey);
  });

  it('gateways generate one signing key into the secrets bucket and agents verify its tokens', async () => {
    // Two gateway replicas booting side by side agree on one key.
    const [first, second] = await Promise.all([loadSigningKey(env.nc, env.naming, undefined), loadSigningKey(env.nc, env.naming, undefined)]);
    assert.ok(createPublicKey(first).export({ format: 'der', type: 'spki' }).equals(createPublicKey(second).export({ format: 'der', type: 'spki' })));
    const stored = await (await env.nc.jetstream().views.kv(env.naming.secretsBucket)).get(HOST_TOKEN_SIGNING_KEY_ENTRY);
    assert.ok(stored?.value.length, 'the private key is kept in the secrets bucket');

    const agent = new HostTokenVerifier('host-a', verifyKeySource(env.nc, env.naming, undefined, log));
    await eventually(async () => (await agent.verify(await new HostTokenSigner(first).mint('host-a', SANDBOX), SANDBOX), true), 5_000, 'the agent to accept the gateway key');
    await agent.verify(await new HostTokenSigner(second).mint('host-a', SANDBOX), SANDBOX);
    const forged = await new HostTokenSigner(generateHostTokenKeys().privateKey).mint('host-a', SANDBOX);
    assert.equal(await refusal(agent.verify(forged, SANDBOX)), HostTokenErrorCode.Invalid);
  });

  it('an agent picks up a new key the gateway publishes, and then refuses the old one', async () => {
    const agent = new HostTokenVerifier('host-a', verifyKeySource(env.nc, env.naming, undefined, log));
    const old = await loadSigningKey(env.nc, env.naming, undefined);
    await agent.verify(await new HostTokenSigner(old).mint('host-a', SANDBOX), SANDBOX);
    const rotated = generateHostTokenKeys().privateKey;
    await loadSigningKey(env.nc, env.naming, rotated.export({ format: 'pem', type: 'pkcs8' }).toString());
    const fresh = new HostTokenSigner(rotated);
    await eventually(async () => (await agent.verify(await fresh.mint('host-a', SANDBOX), SANDBOX), true), 10_000, 'the agent to load the new key');
    assert.equal(await refusal(agent.verify(await new HostTokenSigner(old).mint('host-a', SANDBOX), SANDBOX)), HostTokenErrorCode.Invalid);
  });

  it('an agent with a pinned key ignores whatever is published in the bucket', async () => {
    const pinned = generateHostTokenKeys();
    const agent = new HostTokenVerifier('host-a', verifyKeySource(env.nc, env.naming, pinned.publicKey.export({ format: 'pem', type: 'spki' }).toString(), log));
    const published = await loadSigningKey(env.nc, env.naming, undefined);
    assert.equal(await refusal(agent.verify(await new HostTokenSigner(published).mint('host-a', SANDBOX), SANDBOX)), HostTokenErrorCode.Invalid);
    await agent.verify(await new HostTokenSigner(pinned.privateKey).mint('host-a', SANDBOX), SANDBOX);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { generateHostTokenKeys, HostTokenErrorCode, HostTokenSigner, HostTokenVerifier } from './host-token';
import { parseKey } from './host-token-keys';

const SANDBOX = 'sbx_0123456789abcdef';
const OTHER_SANDBOX = 'sbx_fedcba9876543210';
const gateway = generateHostTokenKeys();
const signer = new HostTokenSigner(gateway.privateKey);
const verifierFor = (hostId: string, key = gateway.publicKey) => new HostTokenVerifier(hostId, async () => key);

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail('the token was accepted'),
    (e: unknown) => e as { code?: string },
  );
  return String(error.code);
}

describe(HostTokenVerifier.name, () => {
  it('accepts a fresh token for its own host and the sandbox the call addresses', async () => {
    await verifierFor('host-a').verify(await signer.mint('host-a', SANDBOX), SANDBOX);
  });

  it('accepts the same token again within its lifetime (replay inside the minute is allowed)', async () => {
    const token = await signer.mint('host-a', SANDBOX);
    const verifier = verifierFor('host-a');
    await verifier.verify(token, SANDBOX);
    await verifier.verify(token, SANDBOX);
  });

  it('refuses a call without a token', async () => {
    assert.equal(await refusal(verifierFor('host-a').verify(undefined, SANDBOX)), HostTokenErrorCode.Missing);
    assert.equal(await refusal(verifierFor('host-a').verify('', SANDBOX)), HostTokenErrorCode.Missing);
  });

  it('refuses a token for another sandbox', async () => {
    assert.equal(await refusal(verifierFor('host-a').verify(await signer.mint('host-a', OTHER_SANDBOX), SANDBOX)), HostTokenErrorCode.WrongSandbox);
  });

  it('refuses a token for another host', async () => {
    assert.equal(await refusal(verifierFor('host-a').verify(await signer.mint('host-b', SANDBOX), SANDBOX)), HostTokenErrorCode.WrongHost);
  });

  it('refuses a token signed by another key, even with the same claims', async () => {
    const forger = new HostTokenSigner(generateHostTokenKeys().privateKey);
    assert.equal(await refusal(verifierFor('host-a').verify(await forger.mint('host-a', SANDBOX), SANDBOX)), HostTokenErrorCode.Invalid);
  });

  it('refuses an expired token, and allows the configured clock skew around expiry', async () => {
    const now = Date.now();
    const token = await signer.mint('host-a', SANDBOX, now);
    const verifier = verifierFor('host-a');
    // 60 s lifetime + 30 s skew: accepted at 85 s, refused at 95 s.
    await verifier.verify(token, SANDBOX, now + 85_000);
    assert.equal(await refusal(verifier.verify(token, SANDBOX, now + 95_000)), HostTokenErrorCode.Expired);
  });

  it('refuses a token it already accepted once the token is past its expiry, with the same skew as a first check', async () => {
    const now = Date.now();
    const token = await signer.mint('host-a', SANDBOX, now);
    const verifier = verifierFor('host-a');
    await verifier.verify(token, SANDBOX, now);
    await verifier.verify(token, SANDBOX, now + 30_000);
    await verifier.verify(token, SANDBOX, now + 85_000);
    assert.equal(await refusal(verifier.verify(token, SANDBOX, now + 95_000)), HostTokenErrorCode.Expired);
    assert.equal(await refusal(verifier.verify(token, SANDBOX, now + 96_000)), HostTokenErrorCode.Expired);
  });

  it('refuses a token it already accepted when the call names another sandbox', async () => {
    const token = await signer.mint('host-a', SANDBOX);
    const verifier = verifierFor('host-a');
    await verifier.verify(token, SANDBOX);
    assert.equal(await refusal(verifier.verify(token, OTHER_SANDBOX)), HostTokenErrorCode.WrongSandbox);
    await verifier.verify(token, SANDBOX);
  });

  it('refuses a token it already accepted once its key is no longer the one this host checks with', async () => {
    let key: ReturnType<typeof generateHostTokenKeys>['publicKey'] | null = gateway.publicKey;
    const verifier = new HostTokenVerifier('host-a', async () => key);
    const token = await signer.mint('host-a', SANDBOX);
    await verifier.verify(token, SANDBOX);
    key = generateHostTokenKeys().publicKey;
    assert.equal(await refusal(verifier.verify(token, SANDBOX)), HostTokenErrorCode.Invalid);
    key = null;
    assert.equal(await refusal(verifier.verify(token, SANDBOX)), HostTokenErrorCode.NoKey);
    key = gateway.publicKey;
    await verifier.verify(token, SANDBOX);
  });

  it('refuses a token it already accepted when asked at a time before its issue time less the skew', async () => {
    const now = Date.now();
    const token = await signer.mint('host-a', SANDBOX, now);
    const verifier = verifierFor('host-a');
    await verifier.verify(token, SANDBOX, now);
    await assert.rejects(verifier.verify(token, SANDBOX, now - 40_000));
  });

  it('accepts a token from a gateway whose clock runs up to the skew ahead, not further', async () => {
    const now = Date.now();
    const verifier = verifierFor('host-a');
    await verifier.verify(await signer.mint('host-a', SANDBOX, now + 20_000), SANDBOX, now);
    await assert.rejects(verifier.verify(await signer.mint('host-a', SANDBOX, now + 120_000), SANDBOX, now));
  });

  it('bounds the lifetime by the issue time, whatever expiry the token claims', async () => {
    const issued = Math.floor(Date.now() / 1000);
    const longLived = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer('wrenn-gateway')
      .setAudience('wrenn-host:host-a')
      .setSubject(SANDBOX)
      .setIssuedAt(issued)
      .setExpirationTime(issued + 86_400)
      .sign(gateway.privateKey);
    const verifier = verifierFor('host-a');
    await verifier.verify(longLived, SANDBOX, issued * 1000);
    assert.equal(await refusal(verifier.verify(longLived, SANDBOX, issued * 1000 + 120_000)), HostTokenErrorCode.Expired);
  });

  it('refuses tokens of other algorithms: HS256 keyed with the public key, and alg none', async () => {
    const spki = gateway.publicKey.export({ format: 'der', type: 'spki' });
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = { iss: 'wrenn-gateway', aud: 'wrenn-host:host-a', sub: SANDBOX, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 };
    const hsInput = `${b64({ alg: 'HS256' })}.${b64(claims)}`;
    const hs256 = `${hsInput}.${createHmac('sha256', spki).update(hsInput).digest('base64url')}`;
    const none = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    assert.equal(await refusal(verifierFor('host-a').verify(hs256, SANDBOX)), HostTokenErrorCode.Invalid);
    assert.equal(await refusal(verifierFor('host-a').verify(none, SANDBOX)), HostTokenErrorCode.Invalid);
  });

  it('refuses garbage, and refuses everything while it has no key', async () => {
    assert.equal(await refusal(verifierFor('host-a').verify('not.a.token', SANDBOX)), HostTokenErrorCode.Invalid);
    const keyless = new HostTokenVerifier('host-a', async () => null);
    assert.equal(await refusal(keyless.verify(await signer.mint('host-a', SANDBOX), SANDBOX)), HostTokenErrorCode.NoKey);
  });

  it('takes keys from configuration as PEM or base64 DER, Ed25519 only', async () => {
    const pem = gateway.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const der = gateway.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const token = await new HostTokenSigner(parseKey(gateway.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'), 'private')).mint('host-a', SANDBOX);
    await verifierFor('host-a', parseKey(pem, 'public')).verify(token, SANDBOX);
    await verifierFor('host-a', parseKey(der, 'public')).verify(token, SANDBOX);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    assert.throws(() => parseKey(rsa, 'public'), /Ed25519/);
  });
});

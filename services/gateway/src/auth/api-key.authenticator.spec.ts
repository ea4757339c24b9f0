import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, VerifiedApiKey, WrennError } from '@wrenn/contracts';
import { ApiKeyAuthenticator } from './api-key.authenticator';
import { ApiKeyCache } from './api-key.cache';
import type { AuthClient } from '../services/auth.client';

const GOOD = 'wrn_' + 'g'.repeat(43);
const UNKNOWN = 'wrn_' + 'u'.repeat(43);

/** Stands in for the auth service: answers when the test says, and counts what it was asked. */
class FakeAuth {
  asked = 0;
  revoked = new Set<string>();
  private waiting: Array<() => void> = [];
  hold = false;
  async verifyApiKey(key: string): Promise<VerifiedApiKey> {
    this.asked++;
    // What PostgreSQL said when the request was read, not when it is answered.
    const revoked = this.revoked.has(key);
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (key !== GOOD || revoked) throw new WrennError(ErrorCode.Unauthorized, 'the API key is not valid');
    return { keyId: 'key_good', teamId: 'team_a', scope: 'sandbox' };
  }
  release(): void {
    this.hold = false;
    for (const r of this.waiting.splice(0)) r();
  }
}

const setup = (ttlMs = 60_000) => {
  const auth = new FakeAuth();
  const cache = new ApiKeyCache(ttlMs);
  return { auth, cache, sut: new ApiKeyAuthenticator(auth as unknown as AuthClient, cache) };
};
const headers = (key: string) => ({ 'x-api-key': key });

describe(ApiKeyAuthenticator.name, () => {
  it('asks the auth service once for a steady caller, and each time with the cache off', async () => {
    const on = setup();
    for (let i = 0; i < 5; i++) assert.deepEqual(await on.sut.authenticate(headers(GOOD)), { teamId: 'team_a', actor: { kind: 'api_key', id: 'key_good' }, scope: 'sandbox' });
    assert.equal(on.auth.asked, 1);
    const off = setup(0);
    for (let i = 0; i < 5; i++) await off.sut.authenticate(headers(GOOD));
    assert.equal(off.auth.asked, 5);
  });

  it('refuses a malformed key without asking, and an unknown key from the cache the second time', async () => {
    const { auth, sut } = setup();
    await assert.rejects(sut.authenticate(headers('wrn_short')), { code: ErrorCode.Unauthorized });
    await assert.rejects(sut.authenticate({}), { code: ErrorCode.Unauthorized });
    assert.equal(auth.asked, 0);
    await assert.rejects(sut.authenticate(headers(UNKNOWN)), { code: ErrorCode.Unauthorized });
    await assert.rejects(sut.authenticate(headers(UNKNOWN)), { code: ErrorCode.Unauthorized });
    assert.equal(auth.asked, 1);
  });

  it('refuses a forgotten (revoked) key on the very next call', async () => {
    const { auth, sut } = setup();
    await sut.authenticate(headers(GOOD));
    auth.revoked.add(GOOD);
    sut.forget('key_good');
    await assert.rejects(sut.authenticate(headers(GOOD)), { code: ErrorCode.Unauthorized });
  });

  it('shares one question among concurrent calls, but never one asked before a revocation', async () => {
    const { auth, sut } = setup();
    auth.hold = true;
    const early = [sut.authenticate(headers(GOOD)), sut.authenticate(headers(GOOD))];
    await new Promise((r) => setImmediate(r));
    assert.equal(auth.asked, 1, 'two concurrent calls, one question');
    // The key is revoked while that question is out; its answer is "valid" (read before the revocation).
    auth.revoked.add(GOOD);
    sut.forget('key_good');
    const late = sut.authenticate(headers(GOOD));
    auth.release();
    await Promise.all(early);
    await assert.rejects(late, { code: ErrorCode.Unauthorized }, 'a call after the revocation asks again');
    await assert.rejects(sut.authenticate(headers(GOOD)), { code: ErrorCode.Unauthorized }, 'and the early "valid" was not cached');
  });

  it('caches no failure of the auth service itself', async () => {
    const { cache, sut } = setup();
    let calls = 0;
    const failing = new ApiKeyAuthenticator({ verifyApiKey: async () => { calls++; throw new WrennError(ErrorCode.ServiceUnavailable, 'down'); } } as unknown as AuthClient, cache);
    await assert.rejects(failing.authenticate(headers(GOOD)), { code: ErrorCode.ServiceUnavailable });
    await assert.rejects(failing.authenticate(headers(GOOD)), { code: ErrorCode.ServiceUnavailable });
    assert.equal(calls, 2);
    assert.ok(sut);
  });
});

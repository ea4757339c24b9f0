import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { ErrorCode, VerifiedApiKey } from '@wrenn/contracts';
import { ApiKeyCache, ApiKeyVerdict } from './api-key.cache';

const key = (keyId: string, teamId = 'team_a', extra: Partial<VerifiedApiKey> = {}): ApiKeyVerdict => ({ ok: true, key: { keyId, teamId, scope: 'full', ...extra } });
const refusal: ApiKeyVerdict = { ok: false, code: ErrorCode.Unauthorized, message: 'the API key is not valid' };

describe(ApiKeyCache.name, () => {
  it('holds nothing when its TTL is 0', () => {
    const cache = new ApiKeyCache(0);
    cache.remember('d', cache.generation, key('key_a'));
    assert.equal(cache.enabled, false);
    assert.equal(cache.lookup('d'), undefined);
  });

  it('serves a verdict until its TTL, and a verified key never past its own expiry', async () => {
    const cache = new ApiKeyCache(60_000);
    cache.remember('long', cache.generation, key('key_a'));
    cache.remember('expiring', cache.generation, key('key_b', 'team_a', { expiresInMs: 30 }));
    cache.remember('expired', cache.generation, key('key_c', 'team_a', { expiresInMs: 0 }));
    assert.deepEqual(cache.lookup('long'), key('key_a'));
    assert.ok(cache.lookup('expiring'));
    assert.equal(cache.lookup('expired'), undefined);
    await sleep(80);
    assert.equal(cache.lookup('expiring'), undefined, 'gone with the key’s expiry, long before the TTL');
    assert.ok(cache.lookup('long'));
  });

  it('evicts by key and by team, and leaves other keys', () => {
    const cache = new ApiKeyCache(60_000);
    cache.remember('a', cache.generation, key('key_a', 'team_a'));
    cache.remember('b', cache.generation, key('key_b', 'team_b'));
    cache.remember('c', cache.generation, key('key_c', 'team_c'));
    assert.equal(cache.evict({ keyIds: ['key_a'] }), 1);
    assert.equal(cache.lookup('a'), undefined);
    assert.equal(cache.evict({ teamIds: ['team_b'] }), 1);
    assert.equal(cache.lookup('b'), undefined);
    assert.ok(cache.lookup('c'));
  });

  it('does not store a verdict asked for before an eviction (a verify racing a revocation)', () => {
    const cache = new ApiKeyCache(60_000);
    const asked = cache.generation;
    cache.evict({ keyIds: ['key_a'] });
    cache.remember('a', asked, key('key_a'));
    assert.equal(cache.lookup('a'), undefined);
    cache.remember('a', cache.generation, key('key_a'));
    assert.ok(cache.lookup('a'), 'one asked after the eviction is stored');
  });

  it('serves and stores nothing while suspended, and resumes empty', () => {
    const cache = new ApiKeyCache(60_000);
    cache.remember('a', cache.generation, key('key_a'));
    cache.suspend();
    assert.equal(cache.lookup('a'), undefined);
    cache.remember('b', cache.generation, key('key_b'));
    cache.resume();
    assert.equal(cache.lookup('a'), undefined, 'what was held before the gap is gone');
    assert.equal(cache.lookup('b'), undefined, 'what came during the gap was never stored');
    assert.equal(cache.size, 0);
  });

  it('keeps refusals apart: a flood of made-up keys cannot push out a verified one', () => {
    const cache = new ApiKeyCache(60_000);
    cache.remember('good', cache.generation, key('key_a'));
    for (let i = 0; i < 50_000; i++) cache.remember(`bad${i}`, cache.generation, refusal);
    assert.ok(cache.lookup('good'));
    assert.deepEqual(cache.lookup('bad49999'), refusal);
    assert.ok(cache.size <= 1 + 1_000, `size ${cache.size}`);
  });

  it('names keys by a per-process HMAC, never the key or its stored SHA-256', () => {
    const a = new ApiKeyCache(60_000);
    const b = new ApiKeyCache(60_000);
    const raw = 'wrn_' + 'x'.repeat(43);
    const digest = a.digest(raw);
    assert.equal(digest, a.digest(raw));
    assert.notEqual(digest, b.digest(raw));
    assert.ok(!digest.includes(raw));
    assert.notEqual(digest, createHash('sha256').update(raw).digest('hex'));
    assert.notEqual(digest, createHash('sha256').update(raw).digest('base64url'));
  });
});

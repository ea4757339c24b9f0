import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_KEY_RE } from '@wrenn/contracts';
import { generateApiKey, hashApiKey } from './api-key';
import { hashPassword, verifyPassword } from './password-hasher';

describe('password hashing', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('correct horse battery staple');
    assert.match(stored, /^scrypt\$32768\$8\$1\$/);
    assert.ok(!stored.includes('correct horse'));
    assert.equal(await verifyPassword('correct horse battery staple', stored), true);
    assert.equal(await verifyPassword('correct horse battery stapl', stored), false);
  });

  it('salts each hash, so equal passwords do not hash alike', async () => {
    assert.notEqual(await hashPassword('same password'), await hashPassword('same password'));
  });

  it('rejects stored values that are not scrypt hashes', async () => {
    assert.equal(await verifyPassword('x', 'plain-text'), false);
  });
});

describe('api keys', () => {
  it('have the documented shape, a visible prefix and a SHA-256 that is not the key', () => {
    const { key, prefix, hash } = generateApiKey();
    assert.match(key, API_KEY_RE);
    assert.ok(key.startsWith(prefix) && prefix.startsWith('wrn_') && prefix.length === 12);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(hashApiKey(key), hash);
    assert.notEqual(generateApiKey().key, key);
  });
});

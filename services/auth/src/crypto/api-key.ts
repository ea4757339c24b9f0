import { API_KEY_PREFIX, API_KEY_VISIBLE_CHARS } from '@wrenn/contracts';
import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys: `wrn_` + 32 random bytes in base64url. Only their SHA-256 is stored — the key has
 * 256 bits of entropy, so a fast hash is enough (no salt or KDF needed) and lookups stay one
 * indexed equality match. The first characters are kept in clear so users can tell keys apart.
 */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, API_KEY_VISIBLE_CHARS), hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

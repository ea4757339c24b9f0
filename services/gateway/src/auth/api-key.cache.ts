import { ApiKeyInvalidation, ErrorCode, VerifiedApiKey } from '@wrenn/contracts';
import { LRUCache } from 'lru-cache';
import { createHmac, randomBytes } from 'node:crypto';

/** What the auth service said about a key: who it is, or why it was refused. */
export type ApiKeyVerdict = { ok: true; key: VerifiedApiKey } | { ok: false; code: typeof ErrorCode.Unauthorized | typeof ErrorCode.KeyExpired; message: string };

/** Verified keys a gateway holds: ~200 bytes each, so a few MB at most. */
const VERIFIED_MAX = 10_000;
/** Refused keys: a separate, smaller LRU, so a flood of made-up keys only evicts other refusals. */
const REFUSED_MAX = 1_000;
/** A refusal is cheap to ask again; it is kept just long enough to absorb a client's retry loop. */
const REFUSED_TTL_MAX_MS = 2_000;

/**
 * The auth service's verdicts on API keys, held briefly so a steady caller costs no NATS round
 * trip and no PostgreSQL read per call.
 *
 * Why this keeps the boundary:
 * - a verdict lives at most `ttlMs` (WRENN_API_KEY_CACHE_TTL_MS), and never past the key's own
 *   expiry (VerifiedApiKey.expiresInMs, measured by PostgreSQL and counted here on a monotonic clock);
 * - every revocation is announced on NATS and `evict`ed in every gateway; the gateway that
 *   served the revocation evicts before it answers, so its next call is refused deterministically;
 * - a verdict fetched while an eviction happened is not stored (`generation`): a verify that read
 *   PostgreSQL just before the revocation committed cannot re-insert the revoked key afterwards;
 * - while the subscription cannot hear evictions (NATS disconnected), nothing is served or stored,
 *   and everything is dropped when it can again (`suspend`/`resume`);
 * - keys are stored under an HMAC with a random per-process secret, so the raw key is kept nowhere
 *   and the map's keys match neither the stored hashes nor another process's.
 */
export class ApiKeyCache {
  private readonly secret = randomBytes(32);
  private readonly verified: LRUCache<string, VerifiedApiKey> | undefined;
  private readonly refused: LRUCache<string, ApiKeyVerdict> | undefined;
  private listening = true;
  private gen = 0;

  constructor(private readonly ttlMs: number) {
    if (ttlMs <= 0) return;
    this.verified = new LRUCache({ max: VERIFIED_MAX, ttl: ttlMs });
    this.refused = new LRUCache({ max: REFUSED_MAX, ttl: Math.min(ttlMs, REFUSED_TTL_MAX_MS) });
  }

  get enabled(): boolean {
    return this.verified !== undefined;
  }

  /** The per-process name of a key in this cache. */
  digest(key: string): string {
    return createHmac('sha256', this.secret).update(key, 'utf8').digest('base64url');
  }

  /** Changes on every eviction: take it before asking the auth service, hand it to `remember`. */
  get generation(): number {
    return this.gen;
  }

  lookup(digest: string): ApiKeyVerdict | undefined {
    if (!this.verified || !this.refused || !this.listening) return undefined;
    const key = this.verified.get(digest);
    return key ? { ok: true, key } : this.refused.get(digest);
  }

  /** Stores a verdict asked for at `generation`, unless an eviction happened since. */
  remember(digest: string, generation: number, verdict: ApiKeyVerdict): void {
    if (!this.verified || !this.refused || !this.listening || generation !== this.gen) return;
    if (!verdict.ok) {
      this.refused.set(digest, verdict);
      return;
    }
    const { expiresInMs } = verdict.key;
    if (expiresInMs !== undefined && expiresInMs <= 0) return;
    this.verified.set(digest, verdict.key, { ttl: expiresInMs === undefined ? this.ttlMs : Math.min(this.ttlMs, expiresInMs) });
  }

  /** Drops every verdict about these keys or any key of these teams; answers how many were held. */
  evict(invalidation: ApiKeyInvalidation): number {
    this.gen++;
    if (!this.verified) return 0;
    const keyIds = new Set(invalidation.keyIds ?? []);
    const teamIds = new Set(invalidation.teamIds ?? []);
    // A scan: revocations are rare and the cache is bounded, so no second index is kept in step.
    const stale: string[] = [];
    for (const [digest, key] of this.verified.entries()) {
      if (keyIds.has(key.keyId) || teamIds.has(key.teamId)) stale.push(digest);
    }
    for (const digest of stale) this.verified.delete(digest);
    return stale.length;
  }

  clear(): void {
    this.gen++;
    this.verified?.clear();
    this.refused?.clear();
  }

  /** Evictions may be missed from now on: serve and store nothing. */
  suspend(): void {
    this.listening = false;
    this.clear();
  }

  /** Evictions are heard again: start from empty (anything may have been missed meanwhile). */
  resume(): void {
    this.clear();
    this.listening = true;
  }

  get size(): number {
    return (this.verified?.size ?? 0) + (this.refused?.size ?? 0);
  }
}

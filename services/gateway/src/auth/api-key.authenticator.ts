import { Injectable } from '@nestjs/common';
import { API_KEY_RE, ErrorCode, VerifiedApiKey, WrennError } from '@wrenn/contracts';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthClient } from '../services/auth.client';
import { ApiKeyCache, ApiKeyVerdict } from './api-key.cache';
import type { Caller } from './caller';

/**
 * Turns an `X-API-Key` header into the caller it stands for. The auth service's verdict is held
 * in ApiKeyCache (see there why that keeps revocation immediate); a malformed key is refused
 * here, as the auth service would, without asking it.
 */
@Injectable()
export class ApiKeyAuthenticator {
  /**
   * Verifications under way, so a burst of calls with one uncached key asks the auth service
   * once. Joined only within the cache generation they started in: a call after an eviction
   * never takes an answer asked for before it.
   */
  private readonly inFlight = new Map<string, { generation: number; verdict: Promise<ApiKeyVerdict> }>();

  constructor(
    private readonly auth: AuthClient,
    private readonly cache: ApiKeyCache,
  ) {}

  async authenticate(headers: IncomingHttpHeaders): Promise<Caller> {
    const raw = headers['x-api-key'];
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (!key) throw new WrennError(ErrorCode.Unauthorized, 'an X-API-Key header is required');
    if (!API_KEY_RE.test(key)) throw new WrennError(ErrorCode.Unauthorized, 'the API key is not valid');
    const verdict = await this.verdict(key);
    if (!verdict.ok) throw new WrennError(verdict.code, verdict.message);
    const verified = verdict.key;
    return { teamId: verified.teamId, actor: { kind: 'api_key', id: verified.keyId }, scope: verified.scope ?? 'full' };
  }

  /** Forgets this gateway's verdicts on a key right away (the revoking call's own gateway). */
  forget(keyId: string): void {
    this.cache.evict({ keyIds: [keyId] });
  }

  private verdict(key: string): Promise<ApiKeyVerdict> {
    if (!this.cache.enabled) return this.ask(key);
    const digest = this.cache.digest(key);
    const cached = this.cache.lookup(digest);
    if (cached) return Promise.resolve(cached);
    const generation = this.cache.generation;
    const pending = this.inFlight.get(digest);
    if (pending?.generation === generation) return pending.verdict;
    const asked = this.ask(key).then((verdict) => {
      this.cache.remember(digest, generation, verdict);
      return verdict;
    });
    const entry = { generation, verdict: asked };
    this.inFlight.set(digest, entry);
    const done = () => {
      if (this.inFlight.get(digest) === entry) this.inFlight.delete(digest);
    };
    asked.then(done, done);
    return asked;
  }

  /** The auth service's verdict; only a refusal of the key itself is a verdict, any other failure is thrown. */
  private async ask(key: string): Promise<ApiKeyVerdict> {
    let verified: VerifiedApiKey;
    try {
      verified = await this.auth.verifyApiKey(key);
    } catch (error) {
      if (error instanceof WrennError && (error.code === ErrorCode.Unauthorized || error.code === ErrorCode.KeyExpired)) {
        return { ok: false, code: error.code, message: error.message };
      }
      throw error;
    }
    return { ok: true, key: verified };
  }
}

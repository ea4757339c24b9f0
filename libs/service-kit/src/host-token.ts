import { calculateJwkThumbprint, decodeProtectedHeader, errors as joseErrors, exportJWK, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { createPublicKey, generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';

/**
 * Host tokens: what the gateway shows a host agent's data plane and envd proxy on every call.
 *
 * A compact JWT signed with Ed25519 (EdDSA) by the gateway's private key; agents hold only the
 * public key, so an agent (or anyone who takes one over) can check tokens but never mint one, for
 * its own host or another. Each token names one host (`aud`) and one sandbox (`sub`) and lives
 * about a minute. Within that minute it can be replayed against the same sandbox on the same
 * host — which is what the gateway itself could ask for anyway; it cannot be turned on another
 * sandbox or host. jose does the parsing and the checks (algorithm pinned to EdDSA, expiry with
 * a clock-skew allowance, issuer, audience), so none of that is hand-written here.
 */

/** The request header (data plane and envd proxy alike) that carries the token. */
export const HOST_TOKEN_HEADER = 'wrenn-host-token';

const ISSUER = 'wrenn-gateway';
const ALGORITHM = 'EdDSA';
const audienceOf = (hostId: string) => `wrenn-host:${hostId}`;

export const HostTokenErrorCode = {
  /** No token on the call. */
  Missing: 'host_token_missing',
  /** Not a token, another algorithm, or a signature this host's key does not verify. */
  Invalid: 'host_token_invalid',
  /** Past its expiry (beyond the allowed clock skew), or issued too long ago. */
  Expired: 'host_token_expired',
  /** Minted for another host. */
  WrongHost: 'host_token_wrong_host',
  /** Minted for another sandbox than the call addresses. */
  WrongSandbox: 'host_token_wrong_sandbox',
  /** The host does not know the key to check tokens with (yet): nothing is accepted. */
  NoKey: 'host_token_no_key',
} as const;
export type HostTokenErrorCode = (typeof HostTokenErrorCode)[keyof typeof HostTokenErrorCode];

/** A refused host token; callers answer 401 / `unauthenticated` and do nothing else. */
export class HostTokenError extends Error {
  constructor(
    readonly code: HostTokenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HostTokenError';
  }
}

export interface HostTokenTiming {
  /** Lifetime of a minted token. */
  tokenTtlSec: number;
  /** How far apart the gateway's and an agent's clocks may be. */
  clockSkewSec: number;
}

export const DEFAULT_HOST_TOKEN_TIMING: HostTokenTiming = { tokenTtlSec: 60, clockSkewSec: 30 };

/** A key's id: its RFC 7638 thumbprint, carried as `kid` so an agent sees a key change. */
export async function keyIdOf(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey));
}

export function generateHostTokenKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** The gateway's side: mints a token for one call to one sandbox on one host. */
export class HostTokenSigner {
  private kid: Promise<string>;

  constructor(
    private readonly privateKey: KeyObject,
    private readonly timing: HostTokenTiming = DEFAULT_HOST_TOKEN_TIMING,
  ) {
    if (privateKey.asymmetricKeyType !== 'ed25519' || privateKey.type !== 'private') throw new Error('host tokens are signed with an Ed25519 private key');
    this.kid = keyIdOf(createPublicKey(privateKey));
  }

  async mint(hostId: string, sandboxId: string, now = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, kid: await this.kid })
      .setIssuer(ISSUER)
      .setAudience(audienceOf(hostId))
      .setSubject(sandboxId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.timing.tokenTtlSec)
      // Only for logs and tracing: replays within the lifetime are accepted (see above).
      .setJti(randomUUID())
      .sign(this.privateKey);
  }
}

/** Where an agent gets the public key for a key id; null when it has none. */
export type VerifyKeySource = (kid: string | undefined) => Promise<KeyObject | null>;

/** How many verified tokens an agent remembers: about one per (sandbox, gateway replica) in use. */
const VERIFIED_TOKENS_MAX = 10_000;

/** A token whose signature and claims were checked, and the window in which that check holds. */
interface VerifiedToken {
  kid: string | undefined;
  key: KeyObject;
  sandboxId: string;
  /** Unix ms: the issue time less the skew (a cached check never accepts earlier than jose would). */
  validFrom: number;
  /** Unix ms: the earlier of its expiry and issue time + lifetime, without the skew allowance. */
  validUntil: number;
}

/** An agent's side: checks that a token was minted by the gateway for this host and this sandbox. */
export class HostTokenVerifier {
  /**
   * Tokens already verified, so a token the gateway reuses (it does, for half its lifetime) costs
   * one Ed25519 check, not one per call. Safe because a hit grants exactly what the full check
   * granted and nothing longer: only tokens that passed every check are kept, keyed by their
   * whole text (a changed byte is another key); a hit still checks the sandbox the call names,
   * that the key it was verified with is still this host's key for its kid, and that now lies
   * inside the token's own validity (expiry and issue time + lifetime, with no skew allowance
   * on the far end). Outside that window the token goes through jose again, which refuses it or
   * applies the skew exactly as before. Every refusal is computed afresh; refusals are not cached.
   */
  private readonly verified = new LRUCache<string, VerifiedToken>({ max: VERIFIED_TOKENS_MAX });

  constructor(
    private readonly hostId: string,
    private readonly keys: VerifyKeySource,
    private readonly timing: HostTokenTiming = DEFAULT_HOST_TOKEN_TIMING,
  ) {}

  /** Resolves when `token` allows a call to `sandboxId` on this host; rejects with HostTokenError otherwise. */
  async verify(token: string | undefined | null, sandboxId: string, now = Date.now()): Promise<void> {
    if (!token) throw new HostTokenError(HostTokenErrorCode.Missing, `no ${HOST_TOKEN_HEADER}`);
    const known = this.verified.get(token);
    if (known && now >= known.validFrom && now < known.validUntil) {
      const key = await this.keys(known.kid);
      if (key && key.equals(known.key)) {
        if (known.sandboxId !== sandboxId) throw new HostTokenError(HostTokenErrorCode.WrongSandbox, 'host token is for another sandbox');
        return;
      }
    }
    if (known) this.verified.delete(token);
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new HostTokenError(HostTokenErrorCode.Invalid, 'not a host token');
    }
    const key = await this.keys(kid);
    if (!key) throw new HostTokenError(HostTokenErrorCode.NoKey, 'this host has no key to check host tokens with');
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        clockTolerance: this.timing.clockSkewSec,
        // iat is required and bounds the lifetime, whatever exp a token claims.
        maxTokenAge: this.timing.tokenTtlSec,
        requiredClaims: ['sub', 'aud', 'exp', 'iat'],
        currentDate: new Date(now),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new HostTokenError(HostTokenErrorCode.Expired, 'host token expired');
      throw new HostTokenError(HostTokenErrorCode.Invalid, `host token refused: ${(error as Error).message}`);
    }
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (audience.length !== 1 || audience[0] !== audienceOf(this.hostId)) throw new HostTokenError(HostTokenErrorCode.WrongHost, 'host token is for another host');
    if (claims.sub !== sandboxId) throw new HostTokenError(HostTokenErrorCode.WrongSandbox, 'host token is for another sandbox');
    // requiredClaims made exp and iat present; jose checked they are numbers.
    const iat = claims.iat!;
    this.verified.set(token, {
      kid,
      key,
      sandboxId,
      validFrom: (iat - this.timing.clockSkewSec) * 1000,
      validUntil: Math.min(claims.exp!, iat + this.timing.tokenTtlSec) * 1000,
    });
  }
}

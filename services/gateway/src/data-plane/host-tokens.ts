import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { WrennConfig } from '@wrenn/config';
import { Naming } from '@wrenn/contracts';
import { CONFIG, HostTokenSigner, loadSigningKey, NAMING, NATS } from '@wrenn/service-kit';
import { LRUCache } from 'lru-cache';
import { NatsConnection } from 'nats';

/** How many (host, sandbox) tokens are kept for reuse: about one per sandbox in use. */
const REUSED_TOKENS_MAX = 10_000;

/**
 * Mints the host token every data-plane and envd-proxy call carries, for the host and the sandbox
 * it addresses. A token is reused for that (host, sandbox) until half its lifetime is gone, so
 * a busy sandbox costs one Ed25519 signature per half minute rather than one per call (and the
 * agent, which remembers tokens it verified, skips its check too).
 *
 * Reuse is safe: the token grants what a fresh one would, no more, for no longer. It names one
 * host and one sandbox, and within its lifetime it is replayable by design (see host-token.ts);
 * whether a caller may reach the sandbox is decided by the gateway before it asks for a token,
 * on every call. A reused token always has at least half its lifetime left, far more than the
 * allowed clock skew, so an agent never sees one that is about to expire. The signing key is configured or generated once into the secrets
 * bucket; loading it also publishes its public half for the host agents, so it happens at boot,
 * before any call can need it.
 */
@Injectable()
export class HostTokens implements OnApplicationBootstrap {
  private signer: Promise<HostTokenSigner> | undefined;
  /** (host, sandbox) → its current token and when to mint the next one (a promise: concurrent calls share one signature). */
  private readonly reusable = new LRUCache<string, { token: Promise<string>; renewAt: number }>({ max: REUSED_TOKENS_MAX });

  constructor(
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.load();
  }

  private load(): Promise<HostTokenSigner> {
    this.signer ??= loadSigningKey(this.nc, this.naming, this.config.dataPlaneAuth.signingKey)
      .then((key) => new HostTokenSigner(key, this.config.dataPlaneAuth))
      .catch((error) => {
        this.signer = undefined;
        throw error;
      });
    return this.signer;
  }

  /** A token for a call to `sandboxId` on `hostId`: the current one while it has half its lifetime left. */
  token(hostId: string, sandboxId: string, now = Date.now()): Promise<string> {
    const key = `${hostId}\u0000${sandboxId}`;
    const current = this.reusable.get(key);
    if (current && now < current.renewAt) return current.token;
    const token = this.mint(hostId, sandboxId, now);
    this.reusable.set(key, { token, renewAt: now + (this.config.dataPlaneAuth.tokenTtlSec * 1000) / 2 });
    // A failed mint is not kept: the next call tries again.
    token.catch(() => {
      if (this.reusable.get(key)?.token === token) this.reusable.delete(key);
    });
    return token;
  }

  /** Drops the reused token of (host, sandbox): its agent refused it (a key change, a clock jump). */
  forget(hostId: string, sandboxId: string): void {
    this.reusable.delete(`${hostId}\u0000${sandboxId}`);
  }

  /** A new token, never reused. */
  async mint(hostId: string, sandboxId: string, now = Date.now()): Promise<string> {
    return (await this.load()).mint(hostId, sandboxId, now);
  }
}

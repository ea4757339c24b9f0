import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { WrennConfig } from '@wrenn/config';
import { Naming } from '@wrenn/contracts';
import { CONFIG, NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SECRET_KEY = 'envd-access-token';

/**
 * envd access tokens, derived rather than stored: HMAC-SHA256 of the sandbox id under the
 * platform secret. Any gateway replica can hand one out (create, connect) or check one (the envd
 * proxy) without a lookup, and nothing secret is written to the event log.
 *
 * The secret is WRENN_SECRET when set; otherwise one is generated on first use and kept in the
 * NATS KV bucket of platform secrets, first writer wins, so replicas and restarts agree.
 */
@Injectable()
export class EnvdAccessTokens implements OnApplicationBootstrap {
  private key: Buffer | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.key = this.config.secret ? Buffer.from(this.config.secret) : await this.sharedSecret();
  }

  private async sharedSecret(): Promise<Buffer> {
    const kv = await this.nc.jetstream().views.kv(this.naming.secretsBucket, { history: 1 });
    try {
      await kv.create(SECRET_KEY, randomBytes(32));
    } catch {
      // Another replica (or an earlier run) created it: use theirs.
    }
    const entry = await kv.get(SECRET_KEY);
    if (!entry || entry.value.length < 32) throw new Error(`platform secret ${SECRET_KEY} is missing from ${this.naming.secretsBucket}`);
    return Buffer.from(entry.value);
  }

  tokenFor(sandboxId: string): string {
    if (!this.key) throw new Error('envd access tokens are not ready');
    return createHmac('sha256', this.key).update(`envd:${sandboxId}`).digest('base64url');
  }

  matches(sandboxId: string, given: string | undefined): boolean {
    if (!given) return false;
    const expected = Buffer.from(this.tokenFor(sandboxId));
    const actual = Buffer.from(given);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}

import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { WrennConfig } from '@wrenn/config';
import { RateWindowRepository } from '@wrenn/db';
import { CONFIG, DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';
import type { Caller } from './caller';

const WINDOW_SEC = 60;

/**
 * The request rate of every authenticated call: per key (or user) and per client address, each
 * a one-minute sliding window in PostgreSQL (`request_rate_windows`), so all gateway replicas
 * count together. The address is the one Express derives under WRENN_TRUST_PROXY (the socket's
 * unless the operator names the proxies), so X-Forwarded-For does not pick the bucket.
 */
@Injectable()
export class RequestRateLimiter implements OnModuleDestroy {
  private readonly windows: RateWindowRepository;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @Inject(DATA_SOURCE) ds: DataSource,
    @Inject(CONFIG) private readonly config: WrennConfig,
  ) {
    this.windows = new RateWindowRepository(ds, 'request_rate_windows');
    // Buckets of keys and addresses that went quiet would otherwise stay forever.
    this.sweeper = setInterval(() => void this.windows.sweep().catch(() => undefined), 60_000);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** Counts one call; throws 429 `rate_limited` (details.retry_after_sec, the Retry-After header) past either budget. */
  async hit(caller: Caller, address: string | undefined): Promise<void> {
    const { requestsPerMinutePerKey: perKey, requestsPerMinutePerAddress: perAddress } = this.config.edge;
    const checks = [{ bucket: `key:${caller.actor.kind}:${caller.actor.id}`, windowSec: WINDOW_SEC, max: perKey }];
    if (address) checks.push({ bucket: `addr:${address}`, windowSec: WINDOW_SEC, max: perAddress });
    const retryAfter = await this.windows.count(checks);
    if (retryAfter > 0) {
      throw new WrennError(ErrorCode.RateLimited, `too many requests (at most ${perKey} a minute per key and ${perAddress} per address); retry in ${retryAfter} s`, { retry_after_sec: retryAfter });
    }
  }
}

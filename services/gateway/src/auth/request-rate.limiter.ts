import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { WrennConfig } from '@wrenn/config';
import { RateWindowRepository } from '@wrenn/db';
import type { Logger } from '@wrenn/logger';
import { CONFIG, DATA_SOURCE, LOGGER } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';
import { BatchedRateCounter } from './batched-rate.counter';
import type { Caller } from './caller';

const WINDOW_SEC = 60;

/**
 * The request rate of every authenticated call: per key (or user) and per client address, each
 * a one-minute sliding window shared by all gateway replicas through PostgreSQL
 * (`request_rate_windows`). Counted in memory and exchanged in batches every
 * WRENN_RATE_FLUSH_MS (BatchedRateCounter, which states the bound on what replicas together can
 * take past a budget), so a call costs no database write. The address is the one Express derives
 * under WRENN_TRUST_PROXY (the socket's unless the operator names the proxies), so
 * X-Forwarded-For does not pick the bucket.
 */
@Injectable()
export class RequestRateLimiter implements OnModuleDestroy {
  private readonly windows: RateWindowRepository;
  private readonly counter: BatchedRateCounter;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @Inject(DATA_SOURCE) ds: DataSource,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) log: Logger,
  ) {
    this.windows = new RateWindowRepository(ds, 'request_rate_windows');
    this.counter = new BatchedRateCounter(this.windows, {
      windowSec: WINDOW_SEC,
      flushMs: config.edge.rateFlushMs,
      onError: (error) => log.warn({ err: error }, 'could not exchange request counts with PostgreSQL; retrying on the next flush'),
    });
    // Buckets of keys and addresses that went quiet would otherwise stay forever.
    this.sweeper = setInterval(() => void this.windows.sweep().catch(() => undefined), 60_000);
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    await this.counter.close();
  }

  /** Sends this replica's counts and reads the other replicas' now, rather than at the next tick. */
  flush(): Promise<void> {
    return this.counter.flush();
  }

  /** Counts one call; throws 429 `rate_limited` (details.retry_after_sec, the Retry-After header) past either budget. */
  async hit(caller: Caller, address: string | undefined): Promise<void> {
    const { requestsPerMinutePerKey: perKey, requestsPerMinutePerAddress: perAddress } = this.config.edge;
    const checks = [{ bucket: `key:${caller.actor.kind}:${caller.actor.id}`, max: perKey }];
    if (address) checks.push({ bucket: `addr:${address}`, max: perAddress });
    const retryAfter = await this.counter.hit(checks);
    if (retryAfter > 0) {
      throw new WrennError(ErrorCode.RateLimited, `too many requests (at most ${perKey} a minute per key and ${perAddress} per address); retry in ${retryAfter} s`, { retry_after_sec: retryAfter });
    }
  }
}

import { ErrorCode, WrennError } from '@wrenn/contracts';
import { RateWindowRepository, WindowCheck } from '@wrenn/db';
import { DataSource } from 'typeorm';

export type { WindowCheck } from '@wrenn/db';

/** The auth service's sliding windows (table `rate_windows`), answering 429 `rate_limited`. */
export class SlidingWindows {
  private readonly counters: RateWindowRepository;
  constructor(ds: DataSource) {
    this.counters = new RateWindowRepository(ds, 'rate_windows');
  }

  /** Counts one hit in every bucket and throws 429 `rate_limited` (with retry_after_sec) when any is past its budget. */
  async hit(checks: readonly WindowCheck[], what: string): Promise<void> {
    const retryAfter = await this.counters.count(checks);
    if (retryAfter > 0) throw new WrennError(ErrorCode.RateLimited, `too many ${what}; retry in ${retryAfter} s`, { retry_after_sec: retryAfter });
  }

  clear(bucket: string): Promise<void> {
    return this.counters.clear(bucket);
  }

  sweep(): Promise<void> {
    return this.counters.sweep();
  }
}

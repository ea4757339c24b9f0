import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { WrennConfig } from '@wrenn/config';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { CONFIG, DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';

/**
 * Fixed-window counters of login attempts per email and per client address, in PostgreSQL so
 * every gateway and auth replica counts together. An attempt is counted before the password is
 * checked: guessing costs budget whether or not the guess is right.
 */
@Injectable()
export class LoginRateLimiter implements OnApplicationBootstrap, OnApplicationShutdown {
  private sweeper?: NodeJS.Timeout;

  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(CONFIG) private readonly config: WrennConfig,
  ) {}

  /** Counters whose window has passed mean nothing: sweep them so the table stays small. */
  onApplicationBootstrap(): void {
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), 60_000);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  async sweep(): Promise<void> {
    await this.ds.query('DELETE FROM login_attempts WHERE window_start <= now() - make_interval(secs => $1)', [this.config.auth.loginWindowSec]);
  }

  /** Counts one attempt; throws `rate_limited` (with retry_after_sec) when a budget is spent. */
  async attempt(email: string, address: string): Promise<void> {
    const { loginWindowSec, loginMaxPerEmail, loginMaxPerAddress } = this.config.auth;
    const checks = [
      { bucket: `email:${email}`, max: loginMaxPerEmail },
      { bucket: `addr:${address}`, max: loginMaxPerAddress },
    ];
    let retryAfter = 0;
    for (const { bucket, max } of checks) {
      const [row] = await this.ds.query(
        `INSERT INTO login_attempts AS a (bucket, window_start, attempts) VALUES ($1, now(), 1)
         ON CONFLICT (bucket) DO UPDATE SET
           window_start = CASE WHEN a.window_start <= now() - make_interval(secs => $2) THEN now() ELSE a.window_start END,
           attempts     = CASE WHEN a.window_start <= now() - make_interval(secs => $2) THEN 1 ELSE a.attempts + 1 END
         RETURNING attempts, ceil(extract(epoch FROM (window_start + make_interval(secs => $2) - now())))::int AS retry_after`,
        [bucket, loginWindowSec],
      );
      if (row.attempts > max) retryAfter = Math.max(retryAfter, Math.max(1, row.retry_after));
    }
    if (retryAfter > 0) {
      throw new WrennError(ErrorCode.RateLimited, `too many login attempts; retry in ${retryAfter} s`, { retry_after_sec: retryAfter });
    }
  }

  /** A successful login clears its email's counter (the address keeps counting). */
  async succeeded(email: string): Promise<void> {
    await this.ds.query('DELETE FROM login_attempts WHERE bucket = $1', [`email:${email}`]);
  }
}

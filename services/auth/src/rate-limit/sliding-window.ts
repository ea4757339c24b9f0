import { ErrorCode, WrennError } from '@wrenn/contracts';
import { DataSource } from 'typeorm';

export interface WindowCheck {
  bucket: string;
  windowSec: number;
  max: number;
}

/**
 * Sliding-window counters in PostgreSQL (the two-window approximation: the previous window's
 * count weighted by how much of it the slide still covers, plus the current one). One upsert per
 * bucket, so every replica counts together, and no burst at a window's edge gets twice the budget.
 */
export class SlidingWindows {
  constructor(private readonly ds: DataSource) {}

  /**
   * Counts one hit in every bucket and throws 429 `rate_limited` (with retry_after_sec) when any
   * is past its budget. Refused hits count too: a client that keeps hammering stays refused.
   */
  async hit(checks: readonly WindowCheck[], what: string): Promise<void> {
    let retryAfter = 0;
    for (const { bucket, windowSec, max } of checks) {
      const [row] = await this.ds.query(
        `INSERT INTO rate_windows AS r (bucket, window_sec, win, current, previous)
         VALUES ($1, $2::int, floor(extract(epoch FROM clock_timestamp()) / $2::int)::bigint, 1, 0)
         ON CONFLICT (bucket) DO UPDATE SET
           previous = CASE WHEN r.win = EXCLUDED.win THEN r.previous WHEN r.win = EXCLUDED.win - 1 THEN r.current ELSE 0 END,
           current  = CASE WHEN r.win = EXCLUDED.win THEN r.current + 1 ELSE 1 END,
           win = EXCLUDED.win, window_sec = EXCLUDED.window_sec
         RETURNING current, previous, extract(epoch FROM clock_timestamp()) - win * $2::int AS into_window`,
        [bucket, windowSec],
      );
      const elapsed = Number(row.into_window) / windowSec;
      const count = Number(row.previous) * (1 - elapsed) + Number(row.current);
      if (count > max) retryAfter = Math.max(retryAfter, Math.max(1, Math.ceil(windowSec * (1 - elapsed))));
    }
    if (retryAfter > 0) throw new WrennError(ErrorCode.RateLimited, `too many ${what}; retry in ${retryAfter} s`, { retry_after_sec: retryAfter });
  }

  async clear(bucket: string): Promise<void> {
    await this.ds.query('DELETE FROM rate_windows WHERE bucket = $1', [bucket]);
  }

  /** Buckets two windows old count nothing any more. */
  async sweep(): Promise<void> {
    await this.ds.query('DELETE FROM rate_windows WHERE (win + 2) * window_sec < extract(epoch FROM clock_timestamp())');
  }
}

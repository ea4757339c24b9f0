import { DataSource } from 'typeorm';

export interface WindowCheck {
  bucket: string;
  windowSec: number;
  max: number;
}

/**
 * The tables that hold sliding-window counters, each with its own grants: the auth service's
 * (signup, login) and the gateway's (every authenticated call). Separate so neither service can
 * touch the other's buckets (the gateway cannot lift a login lockout).
 */
export type RateWindowTable = 'rate_windows' | 'request_rate_windows';

/**
 * The only code that touches the sliding-window counters' tables: counters in PostgreSQL (the two-window approximation: the previous window's
 * count weighted by how much of it the slide still covers, plus the current one). One upsert per
 * bucket, so every replica counts together, and no burst at a window's edge gets twice the budget.
 */
export class RateWindowRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly table: RateWindowTable = 'rate_windows',
  ) {}

  /**
   * Counts one hit in every bucket; answers the seconds to wait when any is past its budget, 0
   * when none is. Refused hits count too: a client that keeps hammering stays refused.
   */
  async count(checks: readonly WindowCheck[]): Promise<number> {
    let retryAfter = 0;
    for (const { bucket, windowSec, max } of checks) {
      const [row] = await this.ds.query(
        `INSERT INTO ${this.table} AS r (bucket, window_sec, win, current, previous)
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
    return retryAfter;
  }

  async clear(bucket: string): Promise<void> {
    await this.ds.query(`DELETE FROM ${this.table} WHERE bucket = $1`, [bucket]);
  }

  /** Buckets two windows old count nothing any more. */
  async sweep(): Promise<void> {
    await this.ds.query(`DELETE FROM ${this.table} WHERE (win + 2) * window_sec < extract(epoch FROM clock_timestamp())`);
  }
}

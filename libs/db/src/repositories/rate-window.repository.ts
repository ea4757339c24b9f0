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
/** A bucket's counts in PostgreSQL: `current` hits in window number `win`, `previous` in the one before. */
export interface SharedWindow {
  win: number;
  current: number;
  previous: number;
}

export interface WindowExchange {
  /** PostgreSQL's clock (unix seconds) when the exchange ran. */
  nowSec: number;
  windows: Map<string, SharedWindow>;
}

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

  /**
   * Adds counted hits to some buckets and reads others, in one statement (one round trip, however
   * many buckets), all in windows of `windowSec`. Answers the shared state of every bucket named
   * (absent: nothing counted yet) and PostgreSQL's clock, so callers can slide the window between
   * exchanges. Buckets are written in sorted order, so replicas exchanging at once cannot deadlock.
   */
  async exchange(windowSec: number, adds: ReadonlyArray<readonly [bucket: string, hits: number]>, reads: readonly string[]): Promise<WindowExchange> {
    const sorted = [...adds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const rows: Array<{ bucket: string | null; current: string; previous: string; win: string | null; now: number }> = await this.ds.query(
      `WITH clock AS MATERIALIZED (SELECT extract(epoch FROM clock_timestamp())::float8 AS t),
       added AS (
         INSERT INTO ${this.table} AS r (bucket, window_sec, win, current, previous)
         SELECT u.bucket, $3::int, floor((SELECT t FROM clock) / $3::int)::bigint, u.hits, 0
         FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS u(bucket, hits, ord) ORDER BY u.ord
         ON CONFLICT (bucket) DO UPDATE SET
           previous = CASE WHEN r.win = EXCLUDED.win THEN r.previous WHEN r.win = EXCLUDED.win - 1 THEN r.current ELSE 0 END,
           current  = CASE WHEN r.win = EXCLUDED.win THEN r.current + EXCLUDED.current ELSE EXCLUDED.current END,
           win = EXCLUDED.win, window_sec = EXCLUDED.window_sec
         RETURNING r.bucket, r.current, r.previous, r.win
       )
       SELECT bucket, current, previous, win, (SELECT t FROM clock) AS now FROM added
       UNION ALL
       SELECT bucket, current, previous, win, (SELECT t FROM clock) FROM ${this.table} WHERE bucket = ANY($4::text[]) AND window_sec = $3::int
       UNION ALL
       SELECT NULL, 0, 0, NULL, (SELECT t FROM clock)`,
      [sorted.map(([bucket]) => bucket), sorted.map(([, hits]) => hits), windowSec, reads],
    );
    const windows = new Map<string, SharedWindow>();
    let now = 0;
    for (const row of rows) {
      now = Number(row.now);
      if (row.bucket !== null) windows.set(row.bucket, { win: Number(row.win), current: Number(row.current), previous: Number(row.previous) });
    }
    return { nowSec: now, windows };
  }

  async clear(bucket: string): Promise<void> {
    await this.ds.query(`DELETE FROM ${this.table} WHERE bucket = $1`, [bucket]);
  }

  /** Buckets two windows old count nothing any more. */
  async sweep(): Promise<void> {
    await this.ds.query(`DELETE FROM ${this.table} WHERE (win + 2) * window_sec < extract(epoch FROM clock_timestamp())`);
  }
}

import type { SharedWindow, WindowExchange } from '@wrenn/db';
import { performance } from 'node:perf_hooks';

/** The one call of RateWindowRepository the counter needs (a fake stands in for it in unit tests). */
export interface SharedWindows {
  exchange(windowSec: number, adds: ReadonlyArray<readonly [string, number]>, reads: readonly string[]): Promise<WindowExchange>;
}

export interface RateCheck {
  bucket: string;
  /** Hits allowed in one sliding window; 0 or less counts nothing and refuses nothing. */
  max: number;
}

interface Bucket {
  /** The shared window at the last exchange, and when that was: PostgreSQL's clock, and ours. */
  shared: SharedWindow;
  sharedAtSec: number;
  sharedAtMs: number;
  /** Hits counted here since that exchange: not yet in `shared`. */
  local: number;
  /** Of those, the ones not yet sent, and the ones on their way in the exchange under way. */
  pending: number;
  sending: number;
  lastHitMs: number;
  loading?: Promise<void>;
}

/**
 * Sliding-window rate counters shared by every gateway replica through PostgreSQL, without a
 * write per call. Each replica counts in memory and, every `flushMs`, adds its counts to the
 * shared windows and reads back the totals, in one statement for all its buckets. A call is
 * judged on (the shared total at the last exchange + the calls this replica took since), with
 * the same two-window approximation as RateWindowRepository.count, slid on between exchanges.
 *
 * The bound: a replica does not see the other replicas' calls until its next exchange, so all
 * replicas together may take at most (replicas × calls each takes in one flush interval) past
 * a budget before every one of them refuses. A bucket new to this replica is read from
 * PostgreSQL before its first call is judged, so a replica that just started (or a key that went
 * quiet here) cannot spend a budget already spent elsewhere. Refused calls count too, as before:
 * a client that keeps hammering stays refused.
 */
export class BatchedRateCounter {
  private readonly buckets = new Map<string, Bucket>();
  private flushing?: Promise<void>;
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly windows: SharedWindows,
    private readonly options: { windowSec: number; flushMs: number; onError?: (error: unknown) => void },
  ) {
    if (options.flushMs > 0) {
      this.timer = setInterval(() => void this.flush(), options.flushMs);
      this.timer.unref();
    }
  }

  /** Counts one hit in every bucket; answers the seconds to wait when any is past its budget, 0 when none is. */
  async hit(checks: readonly RateCheck[]): Promise<number> {
    const active = checks.filter((c) => c.max > 0);
    const loads = active.map((c) => this.load(c.bucket)).filter((p): p is Promise<void> => p !== undefined);
    if (loads.length) await Promise.all(loads);
    const now = performance.now();
    let retryAfter = 0;
    for (const { bucket, max } of active) {
      const b = this.buckets.get(bucket);
      // Swept or failed to load while this call waited: counted from the start next time.
      if (!b) continue;
      b.local++;
      b.pending++;
      b.lastHitMs = now;
      const { count, elapsed } = this.estimate(b, now);
      if (count > max) retryAfter = Math.max(retryAfter, Math.max(1, Math.ceil(this.options.windowSec * (1 - elapsed))));
    }
    return retryAfter;
  }

  /** Sends the counted hits and refreshes every bucket held; buckets quiet for two windows are dropped. */
  flush(): Promise<void> {
    this.flushing ??= this.exchange().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Stops the timer and sends what is still counted. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }

  /** Buckets held in memory. */
  get size(): number {
    return this.buckets.size;
  }

  private load(name: string): Promise<void> | undefined {
    const held = this.buckets.get(name);
    if (held) return held.loading;
    const b: Bucket = { shared: { win: 0, current: 0, previous: 0 }, sharedAtSec: 0, sharedAtMs: 0, local: 0, pending: 0, sending: 0, lastHitMs: performance.now() };
    const startedMs = performance.now();
    b.loading = this.windows.exchange(this.options.windowSec, [], [name]).then(
      (ex) => {
        this.apply(b, ex, name, startedMs);
        b.loading = undefined;
      },
      (error: unknown) => {
        this.buckets.delete(name);
        throw error;
      },
    );
    this.buckets.set(name, b);
    return b.loading;
  }

  private async exchange(): Promise<void> {
    const now = performance.now();
    const quietMs = 2 * this.options.windowSec * 1000;
    const adds: Array<[string, number]> = [];
    const reads: string[] = [];
    const sent: Array<[string, Bucket]> = [];
    for (const [name, b] of this.buckets) {
      if (b.loading) continue;
      if (b.pending === 0 && now - b.lastHitMs > quietMs) {
        this.buckets.delete(name);
        continue;
      }
      if (b.pending > 0) adds.push([name, b.pending]);
      else reads.push(name);
      b.sending = b.pending;
      b.pending = 0;
      sent.push([name, b]);
    }
    if (sent.length === 0) return;
    try {
      const ex = await this.windows.exchange(this.options.windowSec, adds, reads);
      for (const [name, b] of sent) {
        b.local -= b.sending;
        b.sending = 0;
        this.apply(b, ex, name, now);
      }
    } catch (error) {
      // Nothing is lost: the hits go out with the next exchange, and calls are judged on what is
      // known meanwhile (this replica's own count keeps growing).
      for (const [, b] of sent) {
        b.pending += b.sending;
        b.sending = 0;
      }
      this.options.onError?.(error);
    }
  }

  private apply(b: Bucket, ex: WindowExchange, name: string, sentAtMs: number): void {
    // An absent bucket has counted nothing yet, in the window PostgreSQL is in now.
    b.shared = ex.windows.get(name) ?? { win: Math.floor(ex.nowSec / this.options.windowSec), current: 0, previous: 0 };
    b.sharedAtSec = ex.nowSec;
    // PostgreSQL read its clock somewhere between sending and answering; taking the sending
    // time slides the window a little late, which never lets a call through early.
    b.sharedAtMs = sentAtMs;
  }

  /** The weighted count of the bucket now, and how far into its current window (0–1) we are. */
  private estimate(b: Bucket, nowMs: number): { count: number; elapsed: number } {
    const w = this.options.windowSec;
    const position = (b.sharedAtSec + (nowMs - b.sharedAtMs) / 1000) / w;
    const win = Math.floor(position);
    const elapsed = position - win;
    const { shared } = b;
    const current = win === shared.win ? shared.current : 0;
    const previous = win === shared.win ? shared.previous : win === shared.win + 1 ? shared.current : 0;
    // Hits taken here since the exchange are all counted in the current window (at worst a few
    // belong to the one before, which only makes the count a little high until the next exchange).
    return { count: previous * (1 - elapsed) + current + b.local, elapsed };
  }
}

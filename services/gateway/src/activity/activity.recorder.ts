import { Inject, Injectable } from '@nestjs/common';
import { Naming } from '@wrenn/contracts';
import type { WrennConfig } from '@wrenn/config';
import type { Logger } from '@wrenn/logger';
import { CONFIG, LOGGER, NAMING, NATS, processTimers, TimerHandle } from '@wrenn/service-kit';
import { KV, NatsConnection } from 'nats';

/** How far ahead an open exchange marks its sandbox in use, and how often it renews that. */
const BUSY_LEASE_MS = 3000;
const BUSY_RENEW_MS = 500;

/**
 * Records that a sandbox was used through the API, in the activity KV bucket (sandbox id → unix
 * ms) that every gateway replica writes and the TTL reaper reads. Writes are throttled per
 * sandbox (WRENN_ACTIVITY_THROTTLE_MS, default 1 s): a busy sandbox costs one write a second,
 * and the timer is late by at most that much. Open exchanges write a lease instead (see hold()).
 * Only the throttle and the open leases live in memory; losing them loses nothing.
 */
@Injectable()
export class ActivityRecorder {
  private kv: Promise<KV> | undefined;
  private readonly lastWrite = new Map<string, number>();
  /** Open exchanges per sandbox, and the lease on record for each (until its end is written). */
  private readonly holds = new Map<string, number>();
  private readonly busyUntil = new Map<string, number>();
  /** Sandboxes whose last open exchange ended since the last renewal pass: their end is written then. */
  private readonly ended = new Set<string>();
  /** One renewal for every held sandbox, on the process's timer queue: not a timer per exchange. */
  private renewal: TimerHandle | undefined;
  private readonly throttleMs: number;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(CONFIG) config: WrennConfig,
  ) {
    this.throttleMs = config.activityThrottleMs;
  }

  private bucket(): Promise<KV> {
    this.kv ??= this.nc.jetstream().views.kv(this.naming.activityBucket, { history: 1 });
    return this.kv;
  }

  /** Fire and forget: a failed write must not fail the user's call (the timer runs a bit early at worst). */
  touch(sandboxId: string, force = false): void {
    const now = Date.now();
    const last = this.lastWrite.get(sandboxId) ?? 0;
    if (!force && now - last < this.throttleMs) return;
    this.lastWrite.set(sandboxId, now);
    if (this.lastWrite.size > 10_000) this.forgetOld(now);
    void this.write(sandboxId, this.notBefore(sandboxId, now));
  }

  /** Waits for the write: ping answers only once the timer is durably reset. */
  async touchNow(sandboxId: string): Promise<void> {
    const now = Date.now();
    this.lastWrite.set(sandboxId, now);
    await this.write(sandboxId, this.notBefore(sandboxId, now));
  }

  /**
   * Counts an exchange that stays open (a long command, a transfer, a proxied stream) as use for
   * as long as it lasts. Instead of "used at" it records "in use until" a lease a little ahead
   * (renewed twice a second), so the TTL reaper never sees the sandbox idle while the exchange is
   * open — not even between renewals, nor with a 1 s timeout. A gateway that dies mid-call stops
   * renewing and the lease simply runs out. The end is recorded as plain use at the next renewal
   * pass, not at once: a run of short calls (exec after exec) rides on one lease and costs a few
   * writes a second, not two per call. Renewals and ends of all sandboxes share one deadline on
   * the process's timer queue.
   */
  hold(sandboxId: string): () => void {
    const open = this.holds.get(sandboxId) ?? 0;
    this.holds.set(sandboxId, open + 1);
    if (open === 0) {
      // Still in use: an end not yet written is not written. The lease on record is renewed at
      // once only when it would not last until the next renewal pass with a margin.
      this.ended.delete(sandboxId);
      const now = Date.now();
      if ((this.busyUntil.get(sandboxId) ?? 0) < now + BUSY_LEASE_MS - BUSY_RENEW_MS) this.renew(sandboxId, now);
    }
    this.schedule();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holds.get(sandboxId) ?? 1) - 1;
      if (left > 0) {
        this.holds.set(sandboxId, left);
        return;
      }
      this.holds.delete(sandboxId);
      this.ended.add(sandboxId);
      this.schedule();
    };
  }

  private schedule(): void {
    this.renewal ??= processTimers().schedule(BUSY_RENEW_MS, () => this.renewAll());
  }

  private renew(sandboxId: string, now: number): void {
    const until = now + BUSY_LEASE_MS;
    this.busyUntil.set(sandboxId, Math.max(until, this.busyUntil.get(sandboxId) ?? 0));
    void this.write(sandboxId, until);
  }

  /** One pass: every held sandbox's lease moves ahead, every sandbox whose exchanges ended records the end. */
  private renewAll(): void {
    this.renewal = undefined;
    const now = Date.now();
    for (const sandboxId of this.holds.keys()) this.renew(sandboxId, now);
    for (const sandboxId of this.ended) {
      this.busyUntil.delete(sandboxId);
      this.touch(sandboxId, true);
    }
    this.ended.clear();
    if (this.holds.size > 0) this.schedule();
  }

  /**
   * A plain touch never pulls back a lease on record (an open exchange's, or one whose end is
   * still to be written, which a new exchange may ride on).
   */
  private notBefore(sandboxId: string, now: number): number {
    return Math.max(now, this.busyUntil.get(sandboxId) ?? now);
  }

  /** A destroyed sandbox's key goes, so the bucket holds only sandboxes that can still pause. */
  async forget(sandboxId: string): Promise<void> {
    this.lastWrite.delete(sandboxId);
    // An end still to be written would put the key back after the purge.
    this.ended.delete(sandboxId);
    if (!this.holds.has(sandboxId)) this.busyUntil.delete(sandboxId);
    try {
      await (await this.bucket()).purge(sandboxId);
    } catch (error) {
      this.log.warn({ sandboxId, err: error }, 'could not forget sandbox activity');
    }
  }

  private async write(sandboxId: string, at: number): Promise<void> {
    try {
      await (await this.bucket()).put(sandboxId, String(at));
    } catch (error) {
      this.log.warn({ sandboxId, err: error }, 'could not record sandbox activity');
    }
  }

  private forgetOld(now: number): void {
    for (const [id, at] of this.lastWrite) if (now - at >= this.throttleMs) this.lastWrite.delete(id);
  }
}

import { nextWarmStart, WarmDemand, warmSurplus, warmTargets, WarmPlanConfig } from './warm-plan';

export interface WarmPoolOptions<T> {
  plan: WarmPlanConfig;
  /** Starts one warm sandbox for the key (a template's pool key). */
  start(key: string): Promise<T>;
  /** Destroys a warm sandbox nobody will claim. */
  destroy(item: T, key: string): Promise<void>;
  logger?: { warn(obj: object, msg: string): void };
  now?: () => number;
  /**
   * How long after a take the refill looks again (default 200 ms): a warm start runs programs and
   * fills the thread pool, which would otherwise slow the very claim that took the sandbox.
   */
  refillDelayMs?: number;
  /** Told each time a warm sandbox becomes ready (the heartbeat reports it at once, not at the next beat). */
  onReady?: (key: string) => void;
}

/** A key whose warm start failed is left alone this long (its template may be broken or gone). */
const FAILED_KEY_PAUSE_MS = 30_000;
/** How often targets are looked at again with nothing else happening (demand fades). */
const IDLE_REVIEW_MS = 10_000;

/**
 * Warm sandboxes per template: taken by creates, refilled in the background to the targets of
 * warm-plan.ts at its bounded pace, trimmed when demand fades. Owns nothing of a sandbox but its
 * place in the pool: starting and destroying one is the runtime's.
 */
export class WarmPool<T> {
  private readonly ready = new Map<string, T[]>();
  private readonly starting = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly failedAt = new Map<string, number>();
  /** Keys being dropped: a start of theirs that finishes is destroyed, not pooled. */
  private readonly dropped = new Set<string>();
  private readonly demand = new WarmDemand();
  private lastStartAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private review: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: WarmPoolOptions<T>) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Begins keeping the pool filled. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.review = setInterval(() => this.refill(), IDLE_REVIEW_MS);
    this.review.unref();
    this.refill();
  }

  /** Takes a ready warm sandbox of the key (the create counts as demand either way). */
  take(key: string): T | undefined {
    this.demand.record(key, this.now());
    const item = this.ready.get(key)?.shift();
    this.refillSoon();
    return item;
  }

  /**
   * Takes a ready warm sandbox of the key for a claim, which counts as demand only when it gets
   * one: a claim refused for an empty pool is followed by a cold create, which counts it then.
   */
  claim(key: string): T | undefined {
    if (!this.ready.get(key)?.length) return undefined;
    return this.take(key);
  }

  /** A create that could not use the pool (another disk size): demand all the same. */
  noteDemand(key: string): void {
    this.demand.record(key, this.now());
    this.refillSoon();
  }

  private refillSoon(): void {
    const delay = this.options.refillDelayMs ?? 200;
    if (delay === 0) return this.refill();
    if (this.timer || !this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
    }, delay);
    this.timer.unref();
  }

  readyCount(key?: string): number {
    if (key !== undefined) return this.ready.get(key)?.length ?? 0;
    let n = 0;
    for (const list of this.ready.values()) n += list.length;
    return n;
  }

  /** Ready warm sandboxes by key (keys with none left out), as the heartbeat reports them. */
  readyByKey(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, list] of this.ready) if (list.length > 0) out[key] = list.length;
    return out;
  }

  /** Every ready warm sandbox (recovery and tests look at them). */
  items(): T[] {
    return [...this.ready.values()].flat();
  }

  /** Plans and begins what may start now; schedules itself again when the interval holds one back. */
  refill(): void {
    if (!this.running) return;
    const now = this.now();
    const targets = warmTargets(this.options.plan, this.demand, now);
    for (const [key, failed] of this.failedAt) {
      if (now - failed < FAILED_KEY_PAUSE_MS) targets.delete(key);
      else this.failedAt.delete(key);
    }
    for (const key of this.dropped) targets.delete(key);
    this.trim(targets);
    for (;;) {
      const next = nextWarmStart(this.options.plan, targets, { ready: this.counts(), starting: this.starting, lastStartAt: this.lastStartAt }, now);
      if (next.start === undefined) {
        if (next.retryInMs !== undefined && !this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.refill();
          }, next.retryInMs);
          this.timer.unref();
        }
        return;
      }
      this.begin(next.start, now);
    }
  }

  private counts(): Map<string, number> {
    return new Map([...this.ready].map(([k, list]) => [k, list.length]));
  }

  private begin(key: string, now: number): void {
    this.lastStartAt = now;
    this.starting.set(key, (this.starting.get(key) ?? 0) + 1);
    const task = (async () => {
      try {
        const item = await this.options.start(key);
        if (!this.running || this.dropped.has(key)) await this.options.destroy(item, key).catch(() => undefined);
        else {
          this.ready.set(key, [...(this.ready.get(key) ?? []), item]);
          this.options.onReady?.(key);
        }
      } catch (error) {
        this.failedAt.set(key, this.now());
        this.options.logger?.warn({ err: error, key }, 'could not start a warm sandbox');
      } finally {
        const left = (this.starting.get(key) ?? 1) - 1;
        if (left > 0) this.starting.set(key, left);
        else this.starting.delete(key);
      }
    })();
    this.inFlight.add(task);
    void task.finally(() => {
      this.inFlight.delete(task);
      this.refill();
    });
  }

  /** Warm sandboxes over their key's target go (newest kept: the oldest may have aged). */
  private trim(targets: Map<string, number>): void {
    for (const [key, over] of warmSurplus(targets, this.counts())) {
      const list = this.ready.get(key)!;
      for (const item of list.splice(0, over)) this.discard(item, key);
      if (list.length === 0) this.ready.delete(key);
    }
  }

  private discard(item: T, key: string): void {
    const task = this.options.destroy(item, key).catch((error: unknown) => this.options.logger?.warn({ err: error, key }, 'warm sandbox not removed'));
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  /** Destroys the key's warm sandboxes, started and starting (its template is being deleted). */
  async drop(key: string): Promise<void> {
    this.dropped.add(key);
    this.demand.forget(key);
    try {
      const list = this.ready.get(key) ?? [];
      this.ready.delete(key);
      await Promise.all(list.map((item) => this.options.destroy(item, key).catch(() => undefined)));
      while (this.starting.has(key)) await Promise.race(this.inFlight);
    } finally {
      this.dropped.delete(key);
    }
  }

  /** Stops refilling; waits for starts in flight and destroys every warm sandbox. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearInterval(this.review);
    this.timer = undefined;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const all = [...this.ready].flatMap(([key, list]) => list.map((item) => ({ key, item })));
    this.ready.clear();
    for (const { key, item } of all) await this.options.destroy(item, key).catch((error: unknown) => this.options.logger?.warn({ err: error, key }, 'warm sandbox not removed'));
  }
}

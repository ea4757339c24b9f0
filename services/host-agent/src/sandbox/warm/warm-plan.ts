/**
 * How many warm sandboxes each template should have, and which to start now: pure, so the
 * sizing and the pace of the refill are unit-tested rather than watched.
 *
 * A template's target is its floor (the base image's configured size) plus one warm sandbox for
 * each `demandPerMin` creates of it in the last minute, capped per template; all targets together
 * are capped too, the most-demanded templates first. The refill never has more than
 * `startingMax` warm starts in flight and begins them at least `startIntervalMs` apart, so a
 * burst of creates (each of which asks for a refill) cannot take every core from exec.
 */
export interface WarmPlanConfig {
  /** Warm sandboxes kept per template whatever the demand (pool key → count). */
  floor: Readonly<Record<string, number>>;
  perTemplateMax: number;
  max: number;
  /** Creates in the last minute per extra warm sandbox; 0 = demand adds none. */
  demandPerMin: number;
  startingMax: number;
  startIntervalMs: number;
}

export const DEMAND_WINDOW_MS = 60_000;

/** Creates per pool key over the last minute (timestamps, oldest first, dropped as they age). */
export class WarmDemand {
  private readonly creates = new Map<string, number[]>();

  record(key: string, now: number): void {
    const list = this.creates.get(key) ?? [];
    list.push(now);
    this.creates.set(key, list);
    this.prune(key, now);
  }

  count(key: string, now: number): number {
    this.prune(key, now);
    return this.creates.get(key)?.length ?? 0;
  }

  keys(now: number): string[] {
    return [...this.creates.keys()].filter((k) => this.count(k, now) > 0);
  }

  forget(key: string): void {
    this.creates.delete(key);
  }

  private prune(key: string, now: number): void {
    const list = this.creates.get(key);
    if (!list) return;
    let drop = 0;
    while (drop < list.length && list[drop] <= now - DEMAND_WINDOW_MS) drop++;
    if (drop) list.splice(0, drop);
    if (list.length === 0) this.creates.delete(key);
  }
}

/** Warm sandboxes wanted per pool key now (keys wanting none are absent). */
export function warmTargets(config: WarmPlanConfig, demand: WarmDemand, now: number): Map<string, number> {
  const keys = new Set([...Object.keys(config.floor), ...demand.keys(now)]);
  const wanted = [...keys].map((key) => {
    const recent = demand.count(key, now);
    const extra = config.demandPerMin > 0 ? Math.ceil(recent / config.demandPerMin) : 0;
    return { key, recent, want: Math.min(config.perTemplateMax, (config.floor[key] ?? 0) + extra) };
  });
  // Under the total cap the floors come first, then the busiest templates.
  wanted.sort((a, b) => (config.floor[b.key] ?? 0) - (config.floor[a.key] ?? 0) || b.recent - a.recent || a.key.localeCompare(b.key));
  const targets = new Map<string, number>();
  let left = config.max;
  for (const { key, want } of wanted) {
    const take = Math.min(want, left);
    if (take > 0) targets.set(key, take);
    left -= take;
  }
  return targets;
}

export interface RefillState {
  /** Ready warm sandboxes per key. */
  ready: ReadonlyMap<string, number>;
  /** Warm starts in flight per key. */
  starting: ReadonlyMap<string, number>;
  /** When the last warm start was begun (ms), or undefined. */
  lastStartAt?: number;
}

/**
 * The keys to begin a warm start for now (at most one per call: the interval spaces the rest),
 * or, when none may start yet but some are short, how long to wait before asking again.
 */
export function nextWarmStart(config: WarmPlanConfig, targets: ReadonlyMap<string, number>, state: RefillState, now: number): { start?: string; retryInMs?: number } {
  const inFlight = [...state.starting.values()].reduce((a, b) => a + b, 0);
  // The most short of its target first: a template with none ready beats one topping up.
  let best: { key: string; short: number } | undefined;
  for (const [key, target] of targets) {
    const short = target - (state.ready.get(key) ?? 0) - (state.starting.get(key) ?? 0);
    if (short > 0 && (!best || short > best.short)) best = { key, short };
  }
  if (!best) return {};
  if (inFlight >= config.startingMax) return {}; // a finishing start asks again
  const wait = state.lastStartAt === undefined ? 0 : state.lastStartAt + config.startIntervalMs - now;
  if (wait > 0) return { retryInMs: wait };
  return { start: best.key };
}

/** Warm sandboxes beyond their key's target (a template whose demand faded), most surplus first. */
export function warmSurplus(targets: ReadonlyMap<string, number>, ready: ReadonlyMap<string, number>): Map<string, number> {
  const surplus = new Map<string, number>();
  for (const [key, count] of ready) {
    const over = count - (targets.get(key) ?? 0);
    if (over > 0) surplus.set(key, over);
  }
  return surplus;
}

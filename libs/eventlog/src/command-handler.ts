import { Aggregate, ErrorCode, WrennError } from '@wrenn/contracts';
import { ConcurrencyError, EventStore } from './event-store';
import { EventMetadata, StoredEvent } from './envelope';

/** The decider shape (same as @wrenn/domain's), restated here so the log does not depend on any domain. */
export interface DeciderLike<C, E, S> {
  initialState(): S;
  decide(command: C, state: S): E[];
  evolve(state: S, event: E): S;
}

export interface HandleResult<S> {
  state: S;
  /** Aggregate version after the command (stream sequence of its last event). */
  seq: number;
  events: StoredEvent[];
  /** True when this command id had already been handled: nothing new was appended. */
  duplicate: boolean;
}

/** An aggregate folded from its events: its state, the version it reached, and the events. */
export interface Folded<S> {
  state: S;
  version: number;
  history: StoredEvent[];
}

/** A kept fold, with its events indexed by causation id (the idempotency key of handle()). */
type Cached<S> = Folded<S> & { byCause: Map<string, StoredEvent[]> };

function indexByCause(index: Map<string, StoredEvent[]>, events: readonly StoredEvent[]): void {
  for (const event of events) {
    const same = index.get(event.causationId);
    if (same) same.push(event);
    else index.set(event.causationId, [event]);
  }
}

/** How many folded aggregates a handler keeps: enough for the sandboxes a host fleet runs. */
const FOLDS_KEPT = 10_000;

export interface CommandHandlerOptions<E> {
  maxAttempts?: number;
  backoffMs?: number;
  /** Turns a stored event (any schema version) into the decider's event type. */
  upcast?: (event: StoredEvent) => E;
}

/**
 * Runs a pure decider against the log: load → fold → decide → append with the version read.
 * On a version conflict it reloads and decides again, a bounded number of times, so two
 * writers racing on one aggregate both end up deciding on the truth.
 */
export class CommandHandler<C, E extends { type: string; data: unknown; version?: number }, S> {
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly upcast: (event: StoredEvent) => E;
  /** Recently folded aggregates, least recently used first (see state()). */
  private readonly folds = new Map<string, Cached<S>>();

  constructor(
    private readonly store: EventStore,
    private readonly aggregate: Aggregate,
    private readonly decider: DeciderLike<C, E, S>,
    options: CommandHandlerOptions<E> = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 10;
    this.upcast = options.upcast ?? ((event) => ({ type: event.type, data: event.data }) as E);
  }

  /**
   * The aggregate as the log holds it now. Folds are kept for the aggregates this process touched
   * last and reused only while the log still ends at the version they were folded up to (one
   * cheap "last sequence" read instead of reading the whole stream); anything else — another
   * writer, another replica — reads the log again. Losing the cache loses nothing.
   */
  async state(id: string): Promise<Folded<S>> {
    return this.cached(id);
  }

  private async cached(id: string): Promise<Cached<S>> {
    const cached = this.folds.get(id);
    if (cached && (await this.store.version(this.aggregate, id)) === cached.version) return cached;
    const { events, version } = await this.store.load(this.aggregate, id);
    const state = events.reduce((s, e) => this.decider.evolve(s, this.upcast(e)), this.decider.initialState());
    const byCause = new Map<string, StoredEvent[]>();
    indexByCause(byCause, events);
    return this.remember(id, { state, version, history: events, byCause });
  }

  private remember(id: string, folded: Cached<S>): Cached<S> {
    this.folds.delete(id);
    this.folds.set(id, folded);
    if (this.folds.size > FOLDS_KEPT) this.folds.delete(this.folds.keys().next().value as string);
    return folded;
  }

  /**
   * @param meta.causationId doubles as the idempotency key: when the aggregate already holds an
   * event caused by it, the command is not decided again and the earlier outcome is returned.
   * @param options.justRead the caller has just read the aggregate through state(): its first
   * attempt decides on that fold without asking the log for its version again. Safe because the
   * append names the version decided on: had the log moved meanwhile, the append is refused and
   * the next attempt reads the log. Only for commands that always decide an event (a command the
   * stale fold would refuse or find nothing to do for never reaches the append that would tell).
   */
  async handle(id: string, command: C, meta: EventMetadata, options: { justRead?: boolean } = {}): Promise<HandleResult<S>> {
    for (let attempt = 1; ; attempt++) {
      const kept = attempt === 1 && options.justRead ? this.folds.get(id) : undefined;
      const { state, version, history, byCause } = kept ?? (await this.cached(id));
      // By index, not a walk over the history: a long-lived aggregate (a team's quota, which
      // gains events with every sandbox) must not make each command cost more than the last.
      const earlier = [...(byCause.get(meta.causationId) ?? [])];
      if (earlier.length > 0) {
        return { state, seq: earlier[earlier.length - 1].seq, events: earlier, duplicate: true };
      }
      const decided = this.decider.decide(command, state);
      if (decided.length === 0) return { state, seq: version, events: [], duplicate: false };
      try {
        const appended = await this.store.append(this.aggregate, id, decided, meta, version);
        const next = decided.reduce((s, e) => this.decider.evolve(s, e), state);
        // The history grows in place (the fold it belongs to is replaced by this one anyway).
        for (const event of appended.events) history.push(event);
        indexByCause(byCause, appended.events);
        this.remember(id, { state: next, version: appended.seq, history, byCause });
        return { state: next, seq: appended.seq, events: appended.events, duplicate: false };
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        if (attempt >= this.maxAttempts) {
          throw new WrennError(ErrorCode.ConcurrencyConflict, `${this.aggregate} ${id} kept changing; gave up after ${attempt} attempts`);
        }
        // Jittered backoff spreads racing writers apart.
        await new Promise((r) => setTimeout(r, this.backoffMs * attempt * (0.5 + Math.random())));
      }
    }
  }
}

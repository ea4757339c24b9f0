import { Heap } from 'heap-js';
export interface TimerHandle {
  /** Stops the callback from running; a no-op once it ran or was cancelled. */
  cancel(): void;
}

interface Entry {
  due: number;
  /** Insertion order: equal due times fire in the order they were scheduled. */
  order: number;
  fn: (() => void) | undefined;
  /** In the heap (not yet taken out to run): only such entries count in `cancelled`. */
  queued: boolean;
}

export interface TimerQueueOptions {
  now?: () => number;
  onError?: (error: unknown) => void;
}

/**
 * Deadlines of a whole process on one Node timer. Every deadline (an exec's timeout, a lease to
 * renew) goes into a binary min-heap ordered by due time; one `setTimeout`, armed for the
 * earliest, fires whatever is due and re-arms for the next. A thousand sandboxes with a deadline
 * each cost one armed timer and O(log n) per schedule, not a thousand timers.
 *
 * Cancelling marks the entry and leaves it in the heap (O(1)); cancelled entries are dropped when
 * they reach the top, or all at once when they outnumber the live ones, so the heap never grows
 * with what was cancelled. Callbacks run one after another in due order; one that throws does not
 * stop the others (its error goes to `onError`). The timer is unref'd: pending deadlines never
 * keep a process alive on their own, as with an unref'd setTimeout.
 */
export class TimerQueue {
  private readonly heap = new Heap<Entry>((a, b) => a.due - b.due || a.order - b.order);
  private cancelled = 0;
  private order = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The due time the armed timer was set for. */
  private armedFor = Infinity;
  private readonly now: () => number;
  private readonly onError: (error: unknown) => void;

  constructor(options: TimerQueueOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.onError = options.onError ?? ((error) => queueMicrotask(() => { throw error; }));
  }

  /** Live (scheduled, not yet run or cancelled) deadlines. */
  get size(): number {
    return this.heap.length - this.cancelled;
  }

  /** Whether a Node timer is armed right now (at most one ever is). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Runs `fn` once, `delayMs` from now (clamped to ≥ 0). */
  schedule(delayMs: number, fn: () => void): TimerHandle {
    const entry: Entry = { due: this.now() + Math.max(0, delayMs), order: this.order++, fn, queued: true };
    this.heap.push(entry);
    this.arm();
    return {
      cancel: () => {
        if (!entry.fn) return;
        entry.fn = undefined;
        if (!entry.queued) return; // taken out to run in this very turn: it is skipped there
        this.cancelled++;
        if (this.cancelled > 64 && this.cancelled * 2 > this.heap.length) this.compact();
        if (this.size === 0) this.disarm();
      },
    };
  }

  /** Drops every deadline and the timer (a process shutting down). */
  clear(): void {
    for (const entry of this.heap.toArray()) {
      entry.fn = undefined;
      entry.queued = false;
    }
    this.heap.clear();
    this.cancelled = 0;
    this.disarm();
  }

  private arm(): void {
    this.dropCancelledTop();
    const next = this.heap.peek();
    if (!next) return this.disarm();
    if (this.timer && this.armedFor <= next.due) return;
    this.disarm();
    this.armedFor = next.due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.due - this.now()));
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    // Only what was due when this run began: a callback that schedules at 0 ms runs on the next turn.
    const due: Entry[] = [];
    while (this.heap.length > 0 && this.heap.peek()!.due <= now) {
      const entry = this.heap.pop()!;
      entry.queued = false;
      if (entry.fn) due.push(entry);
      else this.cancelled--;
    }
    for (const entry of due) {
      const fn = entry.fn;
      if (!fn) continue; // cancelled by an earlier callback of this run
      entry.fn = undefined;
      try {
        fn();
      } catch (error) {
        this.onError(error);
      }
    }
    this.arm();
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && !this.heap.peek()!.fn) {
      this.heap.pop()!.queued = false;
      this.cancelled--;
    }
  }

  private compact(): void {
    this.heap.init(this.heap.toArray().filter((e) => e.fn));
    this.cancelled = 0;
  }
}

let shared: TimerQueue | undefined;

/** The process's one timer queue, for deadlines that would otherwise each take a Node timer. */
export function processTimers(): TimerQueue {
  shared ??= new TimerQueue();
  return shared;
}

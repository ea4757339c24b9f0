import { Heap } from 'heap-js';
import { Client } from 'pg';

/**
 * The channel a projection's writer notifies, in the transaction that moves its checkpoint, with
 * `<projection>:<position>`. Shared by the writer (the projector) and every waiter.
 */
export const CHECKPOINT_CHANNEL = 'wrenn_checkpoints';

/**
 * Read-your-writes for the gateway: resolves once a projection's checkpoint reaches a stream
 * sequence. Listens to the projector's NOTIFY on one connection (no polling on the happy path) and
 * asks the table directly on start and at the deadline, so a missed notification costs latency,
 * never correctness.
 */
export class CheckpointWaiter {
  private client: Client | undefined;
  private readonly positions = new Map<string, number>();
  /**
   * Waiters of each projection, least sequence first (a binary heap): a notification resolves
   * the ones it reached and looks at no other, so its cost does not grow with how many creates
   * are waiting at once.
   */
  private readonly waiters = new Map<string, WaitQueue>();

  constructor(private readonly databaseUrl: string) {}

  async start(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl, application_name: 'wrenn-checkpoint-waiter' });
    client.on('notification', (n) => {
      if (n.channel !== CHECKPOINT_CHANNEL || !n.payload) return;
      const colon = n.payload.lastIndexOf(':');
      this.advance(n.payload.slice(0, colon), Number(n.payload.slice(colon + 1)));
    });
    client.on('error', () => {
      // Reconnect lazily: waiters still finish through their deadline query.
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    await client.query(`LISTEN ${CHECKPOINT_CHANNEL}`);
    this.client = client;
  }

  async stop(): Promise<void> {
    for (const queue of this.waiters.values()) for (const w of queue.heap.toArray()) w.settle(false);
    this.waiters.clear();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private advance(projection: string, position: number): void {
    if ((this.positions.get(projection) ?? 0) >= position) return;
    this.positions.set(projection, position);
    const queue = this.waiters.get(projection);
    if (!queue) return;
    while (queue.heap.length > 0 && queue.heap.peek()!.seq <= position) {
      const waiter = queue.heap.pop()!;
      if (waiter.done) queue.timedOut--;
      waiter.settle(true);
    }
    if (queue.heap.length === 0) this.waiters.delete(projection);
  }

  /**
   * The projection's checkpoint as the table has it. On the LISTEN connection when there is one
   * (a query there is one round trip; a connection of its own would cost PostgreSQL a new
   * backend on every create that waits), else on a connection of its own.
   */
  async position(projection: string): Promise<number> {
    const listening = this.client;
    if (listening) {
      const { rows } = await listening.query('SELECT position FROM projection_checkpoints WHERE projection = $1', [projection]);
      return this.record(projection, rows);
    }
    const client = new Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT position FROM projection_checkpoints WHERE projection = $1', [projection]);
      return this.record(projection, rows);
    } finally {
      await client.end();
    }
  }

  private record(projection: string, rows: Array<{ position: string }>): number {
    const position = rows.length ? Number(rows[0].position) : 0;
    this.advance(projection, position);
    return position;
  }

  /** True when the projection reached `seq` within `timeoutMs`. */
  async waitFor(projection: string, seq: number, timeoutMs: number): Promise<boolean> {
    if ((this.positions.get(projection) ?? 0) >= seq) return true;
    const reached = new Promise<boolean>((resolve) => {
      let queue = this.waiters.get(projection);
      if (!queue) this.waiters.set(projection, (queue = { heap: new Heap<Waiter>((a, b) => a.seq - b.seq), timedOut: 0 }));
      const waits = queue;
      // Every wait of a gateway has the same timeout, so Node keeps these timers in one list.
      const timer = setTimeout(() => {
        if (waiter.done) return;
        waiter.settle(false);
        waits.timedOut++;
        // Timed-out waits leave the heap in bulk once they are most of it (a projector that is
        // down for a while must not make the heap grow with every create meanwhile).
        if (waits.heap.length > 64 && waits.timedOut * 2 > waits.heap.length) {
          waits.heap.init(waits.heap.toArray().filter((w) => !w.done));
          waits.timedOut = 0;
        }
      }, timeoutMs);
      timer.unref();
      const waiter: Waiter = {
        seq,
        done: false,
        settle: (ok) => {
          if (waiter.done) return;
          waiter.done = true;
          clearTimeout(timer);
          resolve(ok);
        },
      };
      waits.heap.push(waiter);
    });
    if (!this.client) {
      // No listener (never started or connection lost): fall back to polling.
      void this.pollUntil(projection, seq, timeoutMs);
    } else {
      // The position may have moved before we subscribed; one query closes that window.
      void this.position(projection).catch(() => undefined);
    }
    if (await reached) return true;
    return (await this.position(projection).catch(() => 0)) >= seq;
  }

  private async pollUntil(projection: string, seq: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && (this.positions.get(projection) ?? 0) < seq) {
      await this.position(projection).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

interface WaitQueue {
  heap: Heap<Waiter>;
  /** Waits in the heap that already timed out. */
  timedOut: number;
}

/** One wait. One that timed out stays in its heap until reached or swept (settling it again is a no-op). */
interface Waiter {
  seq: number;
  done: boolean;
  settle: (reached: boolean) => void;
}

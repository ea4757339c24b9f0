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
  private readonly waiters = new Set<{ projection: string; seq: number; resolve: (reached: boolean) => void }>();

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
      this.client = undefined;
    });
    await client.connect();
    await client.query(`LISTEN ${CHECKPOINT_CHANNEL}`);
    this.client = client;
  }

  async stop(): Promise<void> {
    for (const w of this.waiters) w.resolve(false);
    this.waiters.clear();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private advance(projection: string, position: number): void {
    if ((this.positions.get(projection) ?? 0) >= position) return;
    this.positions.set(projection, position);
    for (const w of this.waiters) {
      if (w.projection === projection && position >= w.seq) {
        this.waiters.delete(w);
        w.resolve(true);
      }
    }
  }

  async position(projection: string): Promise<number> {
    const client = new Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT position FROM projection_checkpoints WHERE projection = $1', [projection]);
      const position = rows.length ? Number(rows[0].position) : 0;
      this.advance(projection, position);
      return position;
    } finally {
      await client.end();
    }
  }

  /** True when the projection reached `seq` within `timeoutMs`. */
  async waitFor(projection: string, seq: number, timeoutMs: number): Promise<boolean> {
    if ((this.positions.get(projection) ?? 0) >= seq) return true;
    const reached = new Promise<boolean>((resolve) => {
      const waiter = { projection, seq, resolve };
      this.waiters.add(waiter);
      setTimeout(() => {
        if (this.waiters.delete(waiter)) resolve(false);
      }, timeoutMs).unref();
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

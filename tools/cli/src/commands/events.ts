import { naming } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createDataSource, ensureDatabase, migrate } from '@wrenn/db';
import { EventStore, replayProjections, StoredEvent } from '@wrenn/eventlog';
import { serviceIdentity } from '@wrenn/nats-auth';
import { connectNats } from '@wrenn/messaging';
import { allProjections } from '@wrenn/projections';

async function withStore<T>(fn: (store: EventStore) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const nc = await connectNats(config, serviceIdentity('admin'), 'wrenn-cli');
  try {
    const store = await EventStore.create(nc, naming(config.namespace));
    await store.ensureStream();
    return await fn(store);
  } finally {
    await nc.close();
  }
}

export function formatEvent(event: StoredEvent): string {
  const time = event.occurredAt.replace('T', ' ').replace('Z', '');
  const data = JSON.stringify(event.data);
  return `${String(event.seq).padStart(7)}  ${time}  ${event.type.padEnd(24)} ${event.aggregate}/${event.aggregateId}  ${event.actor.kind}:${event.actor.id}  ${data}`;
}

/** Prints the log for humans (or as JSON lines); --follow keeps printing new events. */
export async function tail(options: { from?: number; limit?: number; follow?: boolean; json?: boolean; subject?: string }): Promise<void> {
  await withStore(async (store) => {
    const last = await store.lastSeq();
    let from = options.from ?? Math.max(1, last - (options.limit ?? 50) + 1);
    const print = (event: StoredEvent) => console.log(options.json ? JSON.stringify(event) : formatEvent(event));
    const malformed = (raw: { seq: number; subject: string }, error: Error) =>
      console.log(options.json ? JSON.stringify({ seq: raw.seq, subject: raw.subject, malformed: error.message }) : `${String(raw.seq).padStart(7)}  (malformed: ${error.message}) ${raw.subject}`);
    await store.read({ fromSeq: from, untilSeq: last, subject: options.subject }, print, malformed);
    if (!options.follow) return;
    from = last + 1;
    for (;;) {
      const now = await store.lastSeq();
      if (now >= from) {
        await store.read({ fromSeq: from, untilSeq: now, subject: options.subject }, print, malformed);
        from = now + 1;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  });
}

/** One aggregate's whole story. */
export async function history(aggregate: 'sandbox' | 'template' | 'host', id: string, json: boolean): Promise<void> {
  await withStore(async (store) => {
    const { events } = await store.load(aggregate, id);
    if (events.length === 0) {
      console.error(`no events for ${aggregate} ${id}`);
      process.exitCode = 1;
    }
    for (const event of events) console.log(json ? JSON.stringify(event) : formatEvent(event));
  });
}

/** Truncates and rebuilds read models from the log. */
export async function replay(options: { projection?: string; json?: boolean }): Promise<void> {
  const config = loadConfig();
  await ensureDatabase(config.databaseUrl);
  const ds = createDataSource(config.databaseUrl);
  await ds.initialize();
  try {
    await migrate(ds);
    await withStore(async (store) => {
      const projections = allProjections(store.naming).filter((p) => !options.projection || p.name === options.projection);
      if (projections.length === 0) throw new Error(`unknown projection "${options.projection}"`);
      // One read of the log feeds every projection being rebuilt, in one transaction.
      const result = await replayProjections(store, ds, projections);
      const rate = result.ms > 0 ? Math.round((result.read / result.ms) * 1000) : 0;
      if (options.json) {
        // One line per projection; the log was read once for all, so `read`, `ms` and the rate are shared.
        for (const r of result.results) console.log(JSON.stringify({ ...r, read: result.read, ms: result.ms, eventsPerSecond: rate }));
        return;
      }
      for (const r of result.results) console.log(`${r.projection}: rebuilt from ${r.events} events up to seq ${r.position}, ${r.parked} parked`);
      console.log(`read ${result.read} events in ${result.ms.toFixed(0)} ms (${rate} events/s)`);
    });
  } finally {
    await ds.destroy();
  }
}

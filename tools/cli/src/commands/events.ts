import { naming } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createDataSource, ensureDatabase, migrate } from '@wrenn/db';
import { EventStore, StoredEvent } from '@wrenn/eventlog';
import { serviceIdentity } from '@wrenn/nats-auth';
import { connectNats } from '@wrenn/messaging';
import { allProjections, differenceCount, Projection, rebuildProjections, replayAndCheck, ReplayCheckReport } from '@wrenn/projections';
import { DataSource } from 'typeorm';

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

/** The database with DATABASE_URL (the administrative role: replay creates and drops a schema), migrated. */
async function withDatabase<T>(fn: (ds: DataSource) => Promise<T>): Promise<T> {
  const config = loadConfig();
  await ensureDatabase(config.databaseUrl);
  const ds = createDataSource(config.databaseUrl);
  await ds.initialize();
  try {
    await migrate(ds);
    return await fn(ds);
  } finally {
    await ds.destroy();
  }
}

function chosenProjections(store: EventStore, only?: string): Projection[] {
  const projections = allProjections(store.naming).filter((p) => !only || p.name === only);
  if (projections.length === 0) throw new Error(`unknown projection "${only}"; one of: ${allProjections(store.naming).map((p) => p.name).join(', ')}`);
  return projections;
}

/**
 * `wrenn replay`: rebuilds the read models from the log into a scratch schema with the
 * projector's code, compares them with the live ones row by row, drops the scratch schema, and
 * exits 1 when any row differs (so CI or an operator's cron can act on it).
 */
export async function replay(options: { projection?: string; json?: boolean; timeout?: number }): Promise<void> {
  await withDatabase((ds) =>
    withStore(async (store) => {
      const report = await replayAndCheck(store, ds, chosenProjections(store, options.projection), {
        catchUpTimeoutMs: options.timeout !== undefined ? options.timeout * 1000 : undefined,
      });
      console.log(options.json ? JSON.stringify(report) : formatReplayReport(report));
      if (report.differences > 0) process.exitCode = 1;
    }),
  );
}

const keyText = (key: Record<string, unknown>) => Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');

export function formatReplayReport(report: ReplayCheckReport): string {
  const lines: string[] = [];
  for (const p of report.projections) {
    lines.push(`${p.projection}: ${p.events} events replayed, compared at seq ${Math.max(p.livePosition, p.position)}${p.parked ? `, ${p.parked} parked` : ''}`);
  }
  for (const table of report.tables) {
    const pk = (row: Record<string, unknown>) => keyText(Object.fromEntries(table.primaryKey.map((c) => [c, row[c]])));
    if (differenceCount(table) === 0) {
      lines.push(`${table.table}: no difference`);
      continue;
    }
    lines.push(`${table.table}: ${table.missing.length} missing, ${table.extra.length} extra, ${table.different.length} different (by ${table.primaryKey.join(', ')})`);
    for (const row of table.missing) lines.push(`  missing    ${pk(row)}  (the log has it, the live table does not)`);
    for (const row of table.extra) lines.push(`  extra      ${pk(row)}  (in the live table, not produced by the log)`);
    for (const d of table.different) {
      const columns = d.columns.map((c) => `${c}: live ${JSON.stringify(d.live[c])} ≠ log ${JSON.stringify(d.rebuilt[c])}`).join('; ');
      lines.push(`  different  ${keyText(d.key)}  ${columns}`);
    }
  }
  lines.push(
    report.differences === 0
      ? `the read models match the log (scratch schema ${report.scratchSchema} dropped, ${report.ms.toFixed(0)} ms)`
      : `${report.differences} row(s) differ from the log (scratch schema ${report.scratchSchema} dropped, ${report.ms.toFixed(0)} ms)`,
  );
  return lines.join('\n');
}

/**
 * `wrenn events rebuild`: truncates the live read models and rebuilds them from the log (after a
 * projection changed, or to repair what `wrenn replay` found). The projector's runners wait on
 * the checkpoint locks meanwhile and carry on from the new checkpoints.
 */
export async function rebuild(options: { projection?: string; json?: boolean }): Promise<void> {
  await withDatabase((ds) =>
    withStore(async (store) => {
      // One read of the log feeds every projection being rebuilt, in one transaction.
      const result = await rebuildProjections(store, ds, chosenProjections(store, options.projection));
      const rate = result.ms > 0 ? Math.round((result.read / result.ms) * 1000) : 0;
      if (options.json) {
        // One line per projection; the log was read once for all, so `read`, `ms` and the rate are shared.
        for (const r of result.results) console.log(JSON.stringify({ ...r, read: result.read, ms: result.ms, eventsPerSecond: rate }));
        return;
      }
      for (const r of result.results) console.log(`${r.projection}: rebuilt from ${r.events} events up to seq ${r.position}, ${r.parked} parked`);
      console.log(`read ${result.read} events in ${result.ms.toFixed(0)} ms (${rate} events/s)`);
    }),
  );
}

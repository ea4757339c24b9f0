import { decodeEvent, EventStore, RawEventMessage, StoredEvent, subjectMatches } from '@wrenn/eventlog';
import { DataSource, EntityManager } from 'typeorm';
import { Projection } from '../projection';
import { applyInOrder, lockCheckpoint, saveCheckpoint } from './apply';

export interface RebuildOutcome {
  projection: string;
  events: number;
  parked: number;
  /** The checkpoint the rebuild leaves: where the log was when it started. */
  position: number;
  /** The stream sequence of the last event this projection's filter selected (0: none). */
  lastEvent: number;
}

export interface RebuildOptions {
  /**
   * Rebuild into this schema instead of the live tables (it must hold the same tables, made by
   * the caller). Nothing is notified: read-your-writes waiters only follow the live checkpoints.
   */
  schema?: string;
}

/** How many events a rebuild hands a projection at once (one set-based apply per chunk). */
const REBUILD_CHUNK = 2000;

/** One projection's side of a rebuild: its own transaction, fed chunk by chunk. */
interface RebuildLane {
  projection: Projection;
  result: RebuildOutcome;
  /** Resolves with the lane's transaction once its tables are emptied. */
  tx: Promise<EntityManager>;
  /** The chain of chunk applications, one at a time in stream order. */
  tail: Promise<void>;
  /** The transaction's outcome: committed, or rolled back with the reason. */
  done: Promise<void>;
}

/**
 * Rebuilds projections from the log: truncate their tables, apply every event from the start,
 * set each checkpoint to where the log was. The log is read once, whatever the number of
 * projections; each projection gets the events its filter selects, decoded once, in chunks
 * applied set-wise, in its own transaction on its own connection, so the projections are rebuilt
 * side by side and the next chunk is read meanwhile. No transaction commits before every
 * projection has applied everything; if any fails, all roll back. Live runners wait on the
 * checkpoint row locks meanwhile, then carry on from the new checkpoints.
 */
export async function rebuildProjections(
  store: EventStore,
  dataSource: DataSource,
  projections: Projection[],
  options: RebuildOptions = {},
): Promise<{ results: RebuildOutcome[]; read: number; position: number; ms: number }> {
  const started = performance.now();
  const until = await store.lastSeq();
  const live = options.schema === undefined;
  let release!: () => void;
  let abort!: (error: unknown) => void;
  const everythingApplied = new Promise<void>((resolve, reject) => {
    release = resolve;
    abort = reject;
  });
  everythingApplied.catch(() => undefined);

  const lanes = projections.map((projection): RebuildLane => {
    let ready!: (tx: EntityManager) => void;
    const prepared = new Promise<EntityManager>((resolve) => (ready = resolve));
    const done = dataSource.transaction(async (tx) => {
      // The projections' SQL names its tables unqualified: the search path picks the copy.
      if (!live) await tx.query(`SET LOCAL search_path TO ${quoteIdent(options.schema!)}`);
      await lockCheckpoint(tx, projection.name);
      for (const table of projection.tables) await tx.query(`TRUNCATE TABLE ${quoteIdent(table)}`);
      await tx.query('DELETE FROM dead_letters WHERE projection = $1', [projection.name]);
      await tx.query('UPDATE projection_checkpoints SET position = 0 WHERE projection = $1', [projection.name]);
      ready(tx);
      await everythingApplied; // the commit barrier: throws (rolls back) when any lane failed
      await saveCheckpoint(tx, projection.name, until, live);
    });
    done.catch(() => undefined);
    // A transaction that fails before it is ready must not leave its chunks waiting forever.
    const tx = Promise.race([prepared, done.then(() => Promise.reject(new Error('rebuild transaction ended early')))]);
    tx.catch(() => undefined);
    const result = { projection: projection.name, events: 0, parked: 0, position: until, lastEvent: 0 };
    return { projection, result, tx, tail: Promise.resolve(), done };
  });

  // One projection reads only its own subjects; several share one read of the whole log.
  const subject = projections.length === 1 ? projections[0].filterSubject : store.naming.eventsWildcard;
  const chunk: RawEventMessage[] = [];
  /** Queues the chunk on every lane; waits until each lane has finished the chunk before it. */
  const flush = async (): Promise<void> => {
    const raws = chunk.splice(0);
    const decoded = new Map<number, StoredEvent>();
    // Decoded once for every lane; a message that does not decode is decoded again (and
    // parked) by each projection's own slow path.
    const decode = (raw: RawEventMessage) => {
      let event = decoded.get(raw.seq);
      if (!event) decoded.set(raw.seq, (event = decodeEvent(raw, store.naming.parseEventSubject)));
      return event;
    };
    const previous = lanes.map((lane) => lane.tail);
    for (const lane of lanes) {
      const mine = lane.projection.filterSubject === subject ? raws : raws.filter((raw) => subjectMatches(lane.projection.filterSubject, raw.subject));
      if (mine.length === 0) continue;
      lane.result.lastEvent = mine[mine.length - 1].seq;
      lane.tail = lane.tail.then(async () => {
        const outcome = await applyInOrder(await lane.tx, lane.projection, store.naming, mine, 0, decode);
        lane.result.events += outcome.applied + outcome.parked;
        lane.result.parked += outcome.parked;
      });
      lane.tail.catch(() => undefined);
    }
    await Promise.all(previous);
  };

  let read = 0;
  try {
    read = await store.streamRaw({ fromSeq: 1, untilSeq: until, subject, batch: REBUILD_CHUNK }, async (raw) => {
      chunk.push(raw);
      if (chunk.length >= REBUILD_CHUNK) await flush();
    });
    await flush();
    await Promise.all(lanes.map((lane) => lane.tail));
    release();
  } catch (error) {
    // Every lane must be idle before the transactions roll back: a statement sent after the
    // ROLLBACK would run outside any transaction and commit on its own.
    await Promise.allSettled(lanes.map((lane) => lane.tail));
    abort(error);
  }
  const settled = await Promise.allSettled(lanes.map((lane) => lane.done));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return { results: lanes.map((lane) => lane.result), read, position: until, ms: performance.now() - started };
}

/** Rebuilds one projection (see rebuildProjections). */
export async function rebuildProjection(
  store: EventStore,
  dataSource: DataSource,
  projection: Projection,
  options: RebuildOptions = {},
): Promise<{ events: number; parked: number; position: number; ms: number }> {
  const { results, position, ms } = await rebuildProjections(store, dataSource, [projection], options);
  return { events: results[0].events, parked: results[0].parked, position, ms };
}

/** A table or schema name made of the characters migrations use, double-quoted. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad identifier ${name}`);
  return `"${name}"`;
}

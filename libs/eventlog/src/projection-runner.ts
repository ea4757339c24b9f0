import { Naming } from '@wrenn/contracts';
import { isTransientDbError } from '@wrenn/db';
import type { Logger } from '@wrenn/logger';
import { AckPolicy, DeliverPolicy, JsMsg, NatsConnection } from 'nats';
import { Client } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { decodeEvent, headersToRecord, RawEventMessage, StoredEvent } from './envelope';
import { EventStore, isNotFound } from './event-store';
import { Projection } from './projection';

export const CHECKPOINT_CHANNEL = 'wrenn_checkpoints';

export interface ProjectionRunnerOptions {
  batchSize?: number;
  /** Delay before a batch that hit a transient error is redelivered. */
  nakDelayMs?: number;
  /** How long one fetch waits for new events before polling again. */
  fetchExpiresMs?: number;
  /** How often a standby replica retries to become the active runner. */
  leaderRetryMs?: number;
  /** How long JetStream waits for an ack before redelivering (a crashed runner's batch). */
  ackWaitMs?: number;
}

export interface BatchOutcome {
  applied: number;
  skipped: number;
  parked: number;
  position: number;
}

/**
 * Feeds one projection from its durable pull consumer.
 *
 * Exactly-once effect on top of at-least-once delivery: the projection's rows and its checkpoint
 * (stream sequence) commit in one PostgreSQL transaction, messages are acked only after the
 * commit, and a redelivered message at or below the checkpoint is skipped.
 *
 * Only one runner per projection is active at a time (a PostgreSQL advisory lock held on a
 * dedicated connection); replicas wait on standby. Batches from two active runners could
 * otherwise interleave and skip each other's events.
 */
export class ProjectionRunner {
  private readonly batchSize: number;
  private readonly nakDelayMs: number;
  private readonly fetchExpiresMs: number;
  private readonly leaderRetryMs: number;
  private readonly ackWaitMs: number;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private lockClient: Client | undefined;
  private lockLost = false;
  private wake: (() => void) | undefined;
  /** Wakes the consume loop when a message arrives or the runner stops. */
  private arrivedHook: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly naming: Naming,
    private readonly dataSource: DataSource,
    private readonly databaseUrl: string,
    readonly projection: Projection,
    private readonly log: Logger,
    options: ProjectionRunnerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 256;
    this.nakDelayMs = options.nakDelayMs ?? 1000;
    this.fetchExpiresMs = options.fetchExpiresMs ?? 1000;
    this.leaderRetryMs = options.leaderRetryMs ?? 2000;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
  }

  get durableName(): string {
    return this.naming.consumerName(this.projection.name);
  }

  /** Idempotent: creates the durable consumer, or updates its filter if the projection changed it. */
  async ensureConsumer(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    const config = this.consumerConfig();
    try {
      const info = await jsm.consumers.info(this.naming.stream, this.durableName);
      if (info.config.filter_subject !== config.filter_subject || info.config.max_ack_pending !== config.max_ack_pending) {
        await jsm.consumers.update(this.naming.stream, this.durableName, {
          filter_subject: config.filter_subject,
          max_ack_pending: config.max_ack_pending,
        });
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.consumers.add(this.naming.stream, config);
    }
  }

  /**
   * The checkpoint in PostgreSQL is the truth of what was applied. A runner taking over recreates
   * the durable consumer right after it, so whatever a crashed predecessor had fetched but not
   * committed is delivered again at once, instead of after its ack wait expires.
   */
  private async repositionConsumer(): Promise<void> {
    const rows: Array<{ position: string }> = await this.dataSource.query(
      'SELECT position FROM projection_checkpoints WHERE projection = $1',
      [this.projection.name],
    );
    const position = rows.length ? Number(rows[0].position) : 0;
    const jsm = await this.nc.jetstreamManager();
    await jsm.consumers.delete(this.naming.stream, this.durableName).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
    await jsm.consumers.add(this.naming.stream, {
      ...this.consumerConfig(),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: position + 1,
    });
  }

  private consumerConfig() {
    return {
      durable_name: this.durableName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.projection.filterSubject,
      // One batch in flight: redeliveries come back before anything newer, keeping order.
      max_ack_pending: this.batchSize,
      ack_wait: this.ackWaitMs * 1_000_000,
      max_deliver: -1,
    };
  }

  async start(): Promise<void> {
    await this.ensureConsumer();
    this.running = true;
    this.loopDone = this.loop().catch((error) => this.log.error({ err: error, projection: this.projection.name }, 'projection runner stopped'));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    this.arrivedHook?.();
    await this.loopDone;
    await this.releaseLeadership();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async acquireLeadership(): Promise<boolean> {
    if (this.lockClient && !this.lockLost) return true;
    await this.releaseLeadership();
    const client = new Client({ connectionString: this.databaseUrl, application_name: `wrenn-projection-${this.projection.name}` });
    client.on('error', () => {
      this.lockLost = true;
    });
    try {
      await client.connect();
      const { rows } = await client.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [`wrenn-projection:${this.projection.name}`]);
      if (rows[0]?.locked) {
        this.lockClient = client;
        this.lockLost = false;
        this.log.info({ projection: this.projection.name }, 'projection runner active');
        return true;
      }
    } catch (error) {
      this.log.warn({ err: error, projection: this.projection.name }, 'projection leadership check failed');
    }
    await client.end().catch(() => undefined);
    return false;
  }

  private async releaseLeadership(): Promise<void> {
    const client = this.lockClient;
    this.lockClient = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!(await this.acquireLeadership())) {
        await this.sleep(this.leaderRetryMs);
        continue;
      }
      try {
        await this.consumeWhileLeader();
      } catch (error) {
        if (!this.running) break;
        this.log.warn({ err: error, projection: this.projection.name }, 'projection consumer failed; retrying');
        await this.sleep(this.nakDelayMs);
      }
    }
  }

  /**
   * Messages stream in continuously (consume, not fetch: no waiting for a full batch) and are
   * applied in micro-batches of whatever has arrived, so one event costs one transaction under
   * light load and a burst shares transactions.
   */
  private async consumeWhileLeader(): Promise<void> {
    await this.repositionConsumer();
    const consumer = await this.nc.jetstream().consumers.get(this.naming.stream, this.durableName);
    const messages = await consumer.consume({ max_messages: this.batchSize, expires: Math.max(1000, this.fetchExpiresMs) });
    const buffer: JsMsg[] = [];
    let ended = false;
    const pump = (async () => {
      try {
        for await (const msg of messages) {
          buffer.push(msg);
          this.arrivedHook?.();
        }
      } finally {
        ended = true;
        this.arrivedHook?.();
      }
    })();
    try {
      while (this.running && !this.lockLost && !ended) {
        if (buffer.length === 0) {
          await new Promise<void>((resolve) => {
            this.arrivedHook = resolve;
            setTimeout(resolve, this.leaderRetryMs);
          });
          this.arrivedHook = undefined;
          continue;
        }
        await this.process(buffer.splice(0, this.batchSize));
      }
    } finally {
      messages.stop();
      await pump.catch(() => undefined);
      // Whatever arrived but was not applied goes back at once rather than after ack_wait.
      for (const msg of buffer.splice(0)) msg.nak();
    }
  }

  /** Applies one fetched batch; exposed for tests that drive delivery by hand. */
  async process(batch: JsMsg[]): Promise<BatchOutcome | undefined> {
    batch.sort((a, b) => a.seq - b.seq);
    const raws = batch.map((m): RawEventMessage => ({ subject: m.subject, seq: m.seq, headers: m.headers, data: m.data }));
    let outcome: (BatchOutcome & { poisoned: Set<number> }) | undefined;
    try {
      outcome = await this.dataSource.transaction((tx) => applyBatch(tx, this.projection, this.naming, raws));
    } catch (error) {
      // Nothing of the batch committed; have it redelivered after a pause. A non-transient
      // failure here is outside any single event (the checkpoint itself), so retrying is right too.
      const level = isTransientDbError(error) ? 'warn' : 'error';
      this.log[level]({ err: error, projection: this.projection.name, count: batch.length }, 'projection batch rolled back; will be redelivered');
      for (const msg of batch) msg.nak(this.nakDelayMs);
      return undefined;
    }
    for (const msg of batch) {
      // term() tells JetStream never to redeliver a parked message; ack for the rest.
      if (outcome.poisoned.has(msg.seq)) msg.term();
      else msg.ack();
    }
    if (outcome.parked > 0) this.log.error({ projection: this.projection.name, parked: outcome.parked }, 'events parked in dead_letters');
    return { applied: outcome.applied, skipped: outcome.skipped, parked: outcome.parked, position: outcome.position };
  }
}

async function lockCheckpoint(tx: EntityManager, projection: string): Promise<number> {
  await tx.query(
    `INSERT INTO projection_checkpoints (projection, position, updated_at) VALUES ($1, 0, now()) ON CONFLICT (projection) DO NOTHING`,
    [projection],
  );
  const rows: Array<{ position: string }> = await tx.query(
    'SELECT position FROM projection_checkpoints WHERE projection = $1 FOR UPDATE',
    [projection],
  );
  return Number(rows[0].position);
}

async function saveCheckpoint(tx: EntityManager, projection: string, position: number): Promise<void> {
  await tx.query('UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE projection = $1', [projection, position]);
  // Delivered on commit: read-your-writes waiters wake without polling.
  await tx.query('SELECT pg_notify($1, $2)', [CHECKPOINT_CHANNEL, `${projection}:${position}`]);
}

async function park(tx: EntityManager, projection: string, raw: RawEventMessage, reason: string): Promise<void> {
  const headers = headersToRecord(raw.headers);
  await tx.query(
    `INSERT INTO dead_letters (projection, stream_seq, subject, event_type, event_id, reason, payload, headers)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (projection, stream_seq) DO NOTHING`,
    [
      projection,
      raw.seq,
      raw.subject,
      headers['Wrenn-Event-Type']?.[0] ?? null,
      headers['Nats-Msg-Id']?.[0] ?? null,
      reason.slice(0, 2000),
      Buffer.from(raw.data).toString('utf8').replace(/\u0000/g, ''),
      JSON.stringify(headers),
    ],
  );
}

/**
 * Applies events to a projection inside `tx`. The fast path applies the whole run under one
 * savepoint; if any event fails for a reason of its own, the run is rolled back to it and
 * replayed one savepoint per event, so the bad event is parked in dead_letters and the rest
 * still apply. A transient database error aborts the whole transaction so the batch is retried
 * intact.
 */
async function applyInOrder(
  tx: EntityManager,
  projection: Projection,
  naming: Naming,
  raws: RawEventMessage[],
  position: number,
  decode: (raw: RawEventMessage) => StoredEvent = (raw) => decodeEvent(raw, naming.parseEventSubject),
): Promise<BatchOutcome & { poisoned: Set<number> }> {
  const fresh = raws.filter((raw) => raw.seq > position); // the rest are redeliveries of committed work
  const skipped = raws.length - fresh.length;
  const last = fresh.length ? fresh[fresh.length - 1].seq : position;
  if (fresh.length === 0) return { applied: 0, skipped, parked: 0, position, poisoned: new Set() };
  await tx.query('SAVEPOINT wrenn_batch');
  try {
    const events = fresh.map(decode);
    if (projection.applyBatch) await projection.applyBatch(events, tx);
    else for (const event of events) await projection.apply(event, tx);
    await tx.query('RELEASE SAVEPOINT wrenn_batch');
    return { applied: fresh.length, skipped, parked: 0, position: last, poisoned: new Set() };
  } catch (error) {
    if (isTransientDbError(error)) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT wrenn_batch');
  }
  const poisoned = new Set<number>();
  let applied = 0;
  for (const raw of fresh) {
    await tx.query('SAVEPOINT wrenn_event');
    try {
      await projection.apply(decode(raw), tx);
      await tx.query('RELEASE SAVEPOINT wrenn_event');
      applied++;
    } catch (error) {
      if (isTransientDbError(error)) throw error;
      await tx.query('ROLLBACK TO SAVEPOINT wrenn_event');
      await park(tx, projection.name, raw, (error as Error).message ?? String(error));
      poisoned.add(raw.seq);
    }
  }
  return { applied, skipped, parked: poisoned.size, position: last, poisoned };
}

export async function applyBatch(
  tx: EntityManager,
  projection: Projection,
  naming: Naming,
  raws: RawEventMessage[],
): Promise<BatchOutcome & { poisoned: Set<number> }> {
  const start = await lockCheckpoint(tx, projection.name);
  const outcome = await applyInOrder(tx, projection, naming, raws, start);
  if (outcome.position !== start) await saveCheckpoint(tx, projection.name, outcome.position);
  return outcome;
}

/** True when a NATS subject matches a filter with `*` (one token) and `>` (the rest) wildcards. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

export interface ReplayOutcome {
  projection: string;
  events: number;
  parked: number;
  position: number;
}

/** How many events replay hands a projection at once (one set-based apply per chunk). */
const REPLAY_CHUNK = 2000;

/** One projection's side of a replay: its own transaction, fed chunk by chunk. */
interface ReplayLane {
  projection: Projection;
  result: ReplayOutcome;
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
export async function replayProjections(
  store: EventStore,
  dataSource: DataSource,
  projections: Projection[],
): Promise<{ results: ReplayOutcome[]; read: number; position: number; ms: number }> {
  const started = performance.now();
  const until = await store.lastSeq();
  let release!: () => void;
  let abort!: (error: unknown) => void;
  const everythingApplied = new Promise<void>((resolve, reject) => {
    release = resolve;
    abort = reject;
  });
  everythingApplied.catch(() => undefined);

  const lanes = projections.map((projection): ReplayLane => {
    let ready!: (tx: EntityManager) => void;
    const prepared = new Promise<EntityManager>((resolve) => (ready = resolve));
    const done = dataSource.transaction(async (tx) => {
      await lockCheckpoint(tx, projection.name);
      for (const table of projection.tables) await tx.query(`TRUNCATE TABLE ${quoteIdent(table)}`);
      await tx.query('DELETE FROM dead_letters WHERE projection = $1', [projection.name]);
      await tx.query('UPDATE projection_checkpoints SET position = 0 WHERE projection = $1', [projection.name]);
      ready(tx);
      await everythingApplied; // the commit barrier: throws (rolls back) when any lane failed
      await saveCheckpoint(tx, projection.name, until);
    });
    done.catch(() => undefined);
    // A transaction that fails before it is ready must not leave its chunks waiting forever.
    const tx = Promise.race([prepared, done.then(() => Promise.reject(new Error('replay transaction ended early')))]);
    tx.catch(() => undefined);
    return { projection, result: { projection: projection.name, events: 0, parked: 0, position: until }, tx, tail: Promise.resolve(), done };
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
    read = await store.streamRaw({ fromSeq: 1, untilSeq: until, subject, batch: REPLAY_CHUNK }, async (raw) => {
      chunk.push(raw);
      if (chunk.length >= REPLAY_CHUNK) await flush();
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

/** Rebuilds one projection (see replayProjections). */
export async function replayProjection(
  store: EventStore,
  dataSource: DataSource,
  projection: Projection,
): Promise<{ events: number; parked: number; position: number; ms: number }> {
  const { results, position, ms } = await replayProjections(store, dataSource, [projection]);
  return { events: results[0].events, parked: results[0].parked, position, ms };
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad table name ${name}`);
  return `"${name}"`;
}

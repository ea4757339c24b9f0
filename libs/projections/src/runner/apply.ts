import { Naming } from '@wrenn/contracts';
import { isTransientDbError } from '@wrenn/db';
import { CHECKPOINT_CHANNEL, decodeEvent, headersToRecord, RawEventMessage, StoredEvent } from '@wrenn/eventlog';
import { EntityManager } from 'typeorm';
import { Projection } from '../projection';

/**
 * Applying events to a projection inside a transaction, with its checkpoint: the one code path
 * the live runner, the in-place rebuild and the scratch replay share, so what replay rebuilds is
 * what the projector writes.
 */

export interface BatchOutcome {
  applied: number;
  skipped: number;
  parked: number;
  position: number;
}

export type AppliedBatch = BatchOutcome & { poisoned: Set<number> };

export async function lockCheckpoint(tx: EntityManager, projection: string): Promise<number> {
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

/**
 * Moves the checkpoint. `notify` is off for a scratch copy: its positions are not the live
 * projection's, and a waiter woken by them would read rows that are not there yet.
 */
export async function saveCheckpoint(tx: EntityManager, projection: string, position: number, notify = true): Promise<void> {
  await tx.query('UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE projection = $1', [projection, position]);
  // Delivered on commit: read-your-writes waiters wake without polling.
  if (notify) await tx.query('SELECT pg_notify($1, $2)', [CHECKPOINT_CHANNEL, `${projection}:${position}`]);
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
export async function applyInOrder(
  tx: EntityManager,
  projection: Projection,
  naming: Naming,
  raws: RawEventMessage[],
  position: number,
  decode: (raw: RawEventMessage) => StoredEvent = (raw) => decodeEvent(raw, naming.parseEventSubject),
): Promise<AppliedBatch> {
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
): Promise<AppliedBatch> {
  const start = await lockCheckpoint(tx, projection.name);
  const outcome = await applyInOrder(tx, projection, naming, raws, start);
  if (outcome.position !== start) await saveCheckpoint(tx, projection.name, outcome.position);
  return outcome;
}


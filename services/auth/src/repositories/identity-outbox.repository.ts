import { Inject, Injectable } from '@nestjs/common';
import { Actor, Aggregate } from '@wrenn/contracts';
import { encodeActor } from '@wrenn/eventlog';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource, EntityManager } from 'typeorm';
import { ulid } from 'ulid';

export interface OutboxEvent {
  aggregate: Aggregate;
  aggregateId: string;
  type: string;
  /** Never a secret: no password, hash or raw key ever goes here. */
  data: Record<string, unknown>;
  actor: Actor;
  teamId: string;
  correlationId: string;
}

export interface OutboxRow {
  id: string;
  aggregate: Aggregate;
  aggregate_id: string;
  type: string;
  data: Record<string, unknown>;
  actor: string;
  team_id: string;
  correlation_id: string;
}

/** Any fixed number: one relay at a time publishes, so an aggregate's events keep their order. */
const RELAY_LOCK = 7_344_301;
/** Rows one drain hands over at most; the rest wait for the next. */
const DRAIN_BATCH = 500;

/** The only code that reads and writes identity_outbox. */
@Injectable()
export class IdentityOutboxRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /**
   * Writes events into identity_outbox inside the caller's transaction: the rows and their events
   * commit together or not at all, and the relay publishes them to the log afterwards.
   */
  async enqueue(tx: EntityManager, events: OutboxEvent[]): Promise<void> {
    for (const e of events) {
      await tx.query(
        `INSERT INTO identity_outbox (id, aggregate, aggregate_id, type, data, actor, team_id, correlation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [`evt_${ulid().toLowerCase()}`, e.aggregate, e.aggregateId, e.type, JSON.stringify(e.data), encodeActor(e.actor), e.teamId, e.correlationId],
      );
    }
  }

  /**
   * Hands the pending rows, oldest first, to `publish` one at a time and deletes each once it is
   * published, in one transaction under the relay's lock: a row whose publish throws stays (with
   * every row after it) for the next drain.
   */
  async drain(publish: (row: OutboxRow) => Promise<void>): Promise<void> {
    await this.ds.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [RELAY_LOCK]);
      const rows: OutboxRow[] = await tx.query(`SELECT * FROM identity_outbox ORDER BY created_at, id LIMIT ${DRAIN_BATCH}`);
      for (const row of rows) {
        await publish(row);
        await tx.query('DELETE FROM identity_outbox WHERE id = $1', [row.id]);
      }
    });
  }
}

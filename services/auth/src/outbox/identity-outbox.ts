import { Actor, Aggregate } from '@wrenn/contracts';
import { encodeActor } from '@wrenn/eventlog';
import { EntityManager } from 'typeorm';
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

/**
 * Writes events into identity_outbox inside the caller's transaction: the rows and their events
 * commit together or not at all, and the relay publishes them to the log afterwards.
 */
export async function enqueueEvents(tx: EntityManager, events: OutboxEvent[]): Promise<void> {
  for (const e of events) {
    await tx.query(
      `INSERT INTO identity_outbox (id, aggregate, aggregate_id, type, data, actor, team_id, correlation_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [`evt_${ulid().toLowerCase()}`, e.aggregate, e.aggregateId, e.type, JSON.stringify(e.data), encodeActor(e.actor), e.teamId, e.correlationId],
    );
  }
}

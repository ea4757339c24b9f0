import { Naming } from '@wrenn/contracts';
import { Projection, StoredEvent } from '@wrenn/eventlog';
import { EntityManager } from 'typeorm';

export const AUDIT_PROJECTION = 'audit';

/**
 * The audit log: every event of every aggregate becomes one row saying who (actor) did what
 * (event type) to which resource (aggregate + id), when (occurredAt), under which correlation
 * and team. Any event that decodes is accepted, so new aggregates are audited without a change
 * here. A run is written with one INSERT.
 */
async function insertAuditRows(events: StoredEvent[], tx: EntityManager): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO audit_log (seq, event_id, team_id, actor_kind, actor_id, event_type, event_version, resource_type, resource_id, correlation_id, causation_id, occurred_at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[])
     ON CONFLICT (seq) DO NOTHING`,
    [
      events.map((e) => e.seq), events.map((e) => e.id), events.map((e) => e.teamId), events.map((e) => e.actor.kind),
      events.map((e) => e.actor.id), events.map((e) => e.type), events.map((e) => e.version), events.map((e) => e.aggregate),
      events.map((e) => e.aggregateId), events.map((e) => e.correlationId), events.map((e) => e.causationId),
      events.map((e) => e.occurredAt),
    ],
  );
}

export function auditProjection(naming: Naming): Projection {
  return {
    name: AUDIT_PROJECTION,
    filterSubject: naming.eventsWildcard,
    tables: ['audit_log'],
    apply: (event, tx) => insertAuditRows([event], tx),
    applyBatch: insertAuditRows,
  };
}

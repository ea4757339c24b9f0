import { Naming } from '@wrenn/contracts';
import { StoredEvent } from '@wrenn/eventlog';
import { Projection } from './projection';
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
  // Rows travel as one JSON parameter: serialised natively, unpacked by json_to_recordset.
  const rows = events.map((e) => ({
    seq: e.seq, event_id: e.id, team_id: e.teamId, actor_kind: e.actor.kind, actor_id: e.actor.id, event_type: e.type,
    event_version: e.version, resource_type: e.aggregate, resource_id: e.aggregateId, correlation_id: e.correlationId,
    causation_id: e.causationId, occurred_at: e.occurredAt,
  }));
  await tx.query(
    `INSERT INTO audit_log (seq, event_id, team_id, actor_kind, actor_id, event_type, event_version, resource_type, resource_id, correlation_id, causation_id, occurred_at)
     SELECT seq, event_id, team_id, actor_kind, actor_id, event_type, event_version, resource_type, resource_id, correlation_id, causation_id, occurred_at
     FROM json_to_recordset($1::json) AS r(seq bigint, event_id text, team_id text, actor_kind text, actor_id text, event_type text, event_version integer,
                                          resource_type text, resource_id text, correlation_id text, causation_id text, occurred_at timestamptz)
     ON CONFLICT (seq) DO NOTHING`,
    [JSON.stringify(rows)],
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

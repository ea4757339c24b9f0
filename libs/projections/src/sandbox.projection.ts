import { Aggregate, Naming } from '@wrenn/contracts';
import { isSandboxEventType, SandboxEvent, SandboxEventType as T, SandboxStatus } from '@wrenn/domain';
import { Projection, StoredEvent } from '@wrenn/eventlog';
import { EntityManager } from 'typeorm';

export const SANDBOX_PROJECTION = 'sandboxes';

/** The state each event leaves the row in (the decider's evolve, flattened for SQL). */
function stateAfter(event: SandboxEvent): string {
  switch (event.type) {
    case T.Requested: return SandboxStatus.Pending;
    case T.Scheduled: return SandboxStatus.Starting;
    case T.Started: return SandboxStatus.Running;
    case T.Failed: return SandboxStatus.Failed;
    case T.PauseRequested: return SandboxStatus.Pausing;
    case T.Paused: return SandboxStatus.Paused;
    case T.AutoPaused: return SandboxStatus.Paused;
    case T.PauseFailed: return SandboxStatus.Running;
    case T.ResumeRequested: return SandboxStatus.Resuming;
    case T.Resumed: return SandboxStatus.Running;
    case T.ResumeFailed: return SandboxStatus.Paused;
    case T.StopRequested: return SandboxStatus.Stopping;
    case T.Stopped: return SandboxStatus.Stopped;
    case T.Lost: return SandboxStatus.Lost;
  }
}

/** The columns an event can change after the row exists. */
interface MutableRow {
  state: string;
  hostId: string | null;
  bootId: string | null;
  failureReason: string | null;
  snapshotRef: string | null;
  version: number;
  updatedAt: string;
}

interface NewRow extends MutableRow {
  teamId: string;
  template: string;
  vcpus: number;
  memoryMb: number;
  timeoutSec: number;
  createdAt: string;
}

function toSandboxEvent(stored: StoredEvent): SandboxEvent {
  if (stored.version !== 1) throw new Error(`${stored.type} v${stored.version} is not understood by this projection`);
  if (!isSandboxEventType(stored.type)) throw new Error(`unknown sandbox event type ${stored.type}`);
  return { type: stored.type, data: stored.data } as SandboxEvent;
}

/** What one (non-creating) event does to a row. */
function evolveRow(row: MutableRow, event: SandboxEvent, stored: StoredEvent): void {
  row.state = stateAfter(event);
  row.version = stored.seq;
  row.updatedAt = stored.occurredAt;
  switch (event.type) {
    case T.Scheduled: row.hostId = event.data.hostId; row.bootId = event.data.bootId; break;
    case T.Started: row.hostId = event.data.hostId; row.failureReason = null; break;
    case T.Failed: row.failureReason = event.data.reason; break;
    case T.Lost: row.failureReason = event.data.reason; break;
    case T.Paused: case T.AutoPaused: row.snapshotRef = event.data.snapshotRef; break;
    case T.ResumeRequested: row.hostId = event.data.hostId; row.bootId = event.data.bootId; break;
    case T.Resumed: row.hostId = event.data.hostId; break;
    default: break;
  }
}

/**
 * Folds a run of events into rows in memory and writes them with two statements: one INSERT of
 * the sandboxes the run created, one UPDATE of those it changed. The rows are the same as one
 * event at a time would leave (the fold is the per-event rule applied in order), so batch
 * boundaries never show in the read model.
 */
async function applySandboxEvents(events: StoredEvent[], tx: EntityManager): Promise<void> {
  const created = new Map<string, NewRow>();
  const changed = new Map<string, MutableRow>();
  // Rows the run changes without creating them: loaded once, up front.
  const needed = new Set<string>();
  const seen = new Set<string>();
  for (const stored of events) {
    const id = stored.aggregateId;
    if (!seen.has(id) && stored.type !== T.Requested) needed.add(id);
    seen.add(id);
  }
  if (needed.size > 0) {
    const rows: Array<{ id: string; state: string; host_id: string | null; boot_id: string | null; failure_reason: string | null; snapshot_ref: string | null; version: string; updated_at: Date }> =
      await tx.query(
        'SELECT id, state, host_id, boot_id, failure_reason, snapshot_ref, version, updated_at FROM sandboxes WHERE id = ANY($1::text[])',
        [[...needed]],
      );
    for (const r of rows) {
      changed.set(r.id, {
        state: r.state, hostId: r.host_id, bootId: r.boot_id, failureReason: r.failure_reason,
        snapshotRef: r.snapshot_ref, version: Number(r.version), updatedAt: r.updated_at.toISOString(),
      });
    }
  }
  for (const stored of events) {
    const event = toSandboxEvent(stored);
    const id = stored.aggregateId;
    if (event.type === T.Requested) {
      if (created.has(id) || changed.has(id)) throw new Error(`sandbox ${id} is already in the read model`);
      created.set(id, {
        teamId: event.data.teamId, template: event.data.template, vcpus: event.data.vcpus, memoryMb: event.data.memoryMb,
        timeoutSec: event.data.timeoutSec, state: stateAfter(event), hostId: null, bootId: null, failureReason: null,
        snapshotRef: null, version: stored.seq, createdAt: stored.occurredAt, updatedAt: stored.occurredAt,
      });
      continue;
    }
    const row = created.get(id) ?? changed.get(id);
    if (!row) throw new Error(`${stored.type} for sandbox ${id} that the read model does not have`);
    evolveRow(row, event, stored);
  }
  if (created.size > 0) {
    const ids = [...created.keys()];
    const rows = [...created.values()];
    await tx.query(
      `INSERT INTO sandboxes (id, team_id, state, template, vcpus, memory_mb, timeout_sec, host_id, boot_id, failure_reason, snapshot_ref, version, created_at, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::timestamptz[], $14::timestamptz[])`,
      [
        ids, rows.map((r) => r.teamId), rows.map((r) => r.state), rows.map((r) => r.template), rows.map((r) => r.vcpus),
        rows.map((r) => r.memoryMb), rows.map((r) => r.timeoutSec), rows.map((r) => r.hostId), rows.map((r) => r.bootId),
        rows.map((r) => r.failureReason), rows.map((r) => r.snapshotRef), rows.map((r) => r.version),
        rows.map((r) => r.createdAt), rows.map((r) => r.updatedAt),
      ],
    );
  }
  if (changed.size > 0) {
    const ids = [...changed.keys()];
    const rows = [...changed.values()];
    await tx.query(
      `UPDATE sandboxes s SET state = u.state, host_id = u.host_id, boot_id = u.boot_id, failure_reason = u.failure_reason,
              snapshot_ref = u.snapshot_ref, version = u.version, updated_at = u.updated_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[])
            AS u(id, state, host_id, boot_id, failure_reason, snapshot_ref, version, updated_at)
       WHERE s.id = u.id`,
      [
        ids, rows.map((r) => r.state), rows.map((r) => r.hostId), rows.map((r) => r.bootId), rows.map((r) => r.failureReason),
        rows.map((r) => r.snapshotRef), rows.map((r) => r.version), rows.map((r) => r.updatedAt),
      ],
    );
  }
}

/**
 * The `sandboxes` read model. Timestamps come from the events' occurredAt, never from now(), so
 * a replay rebuilds byte-identical rows.
 */
export function sandboxProjection(naming: Naming): Projection {
  return {
    name: SANDBOX_PROJECTION,
    filterSubject: naming.aggregateWildcard(Aggregate.Sandbox),
    tables: ['sandboxes'],
    apply: (event, tx) => applySandboxEvents([event], tx),
    applyBatch: applySandboxEvents,
  };
}

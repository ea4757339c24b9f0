import { Aggregate, isDefaultPolicy, Naming, NetworkPolicy } from '@wrenn/contracts';
import { isSandboxEventType, SandboxEvent, SandboxEventType as T, SandboxStatus } from '@wrenn/domain';
import { StoredEvent } from '@wrenn/eventlog';
import { Projection } from './projection';
import { EntityManager } from 'typeorm';

export const SANDBOX_PROJECTION = 'sandboxes';

/** The state each event leaves the row in (the decider's evolve, flattened for SQL); null = unchanged. */
function stateAfter(event: SandboxEvent): string | null {
  switch (event.type) {
    case T.Requested: return SandboxStatus.Pending;
    case T.Claimed: return SandboxStatus.Running;
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
    case T.StopRequested: return SandboxStatus.Deleting;
    case T.Stopped: return SandboxStatus.Deleted;
    case T.Lost: return SandboxStatus.Lost;
    case T.TimeoutChanged: return null;
    case T.NetworkChanged: return null;
  }
}

/** The events that begin a sandbox's row: its request, or a warm claim (request, placement and start in one). */
const BEGINS: ReadonlySet<string> = new Set([T.Requested, T.Claimed]);

/** The columns an event can change after the row exists. */
interface MutableRow {
  state: string;
  timeoutSec: number;
  network: NetworkPolicy | null;
  hostId: string | null;
  bootId: string | null;
  failureReason: string | null;
  snapshotRef: string | null;
  snapshotSizeBytes: number | null;
  version: number;
  updatedAt: string;
}

interface NewRow extends MutableRow {
  teamId: string;
  template: string;
  vcpus: number;
  memoryMb: number;
  templateId: string | null;
  createdAt: string;
}

function toSandboxEvent(stored: StoredEvent): SandboxEvent {
  if (stored.version !== 1) throw new Error(`${stored.type} v${stored.version} is not understood by this projection`);
  if (!isSandboxEventType(stored.type)) throw new Error(`unknown sandbox event type ${stored.type}`);
  return { type: stored.type, data: stored.data } as SandboxEvent;
}

/** What one (non-creating) event does to a row. */
function evolveRow(row: MutableRow, event: SandboxEvent, stored: StoredEvent): void {
  row.state = stateAfter(event) ?? row.state;
  row.version = stored.seq;
  row.updatedAt = stored.occurredAt;
  switch (event.type) {
    case T.Scheduled: row.hostId = event.data.hostId; row.bootId = event.data.bootId; break;
    case T.Started: row.hostId = event.data.hostId; row.failureReason = null; break;
    case T.Failed: row.failureReason = event.data.reason; break;
    case T.Lost: row.failureReason = event.data.reason; break;
    case T.Paused: case T.AutoPaused: row.snapshotRef = event.data.snapshotRef; row.snapshotSizeBytes = event.data.sizeBytes ?? null; break;
    case T.ResumeRequested: row.hostId = event.data.hostId; row.bootId = event.data.bootId; break;
    // Running again: the snapshot became the sandbox, it no longer occupies storage of its own.
    case T.Resumed: row.hostId = event.data.hostId; row.snapshotRef = null; row.snapshotSizeBytes = null; break;
    // updated_at moves with it: the reaper counts inactivity from the row's last change too.
    case T.TimeoutChanged: row.timeoutSec = event.data.timeoutSec; break;
    case T.NetworkChanged: row.network = isDefaultPolicy(event.data.network) ? null : event.data.network; break;
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
    if (!seen.has(id) && !BEGINS.has(stored.type)) needed.add(id);
    seen.add(id);
  }
  if (needed.size > 0) {
    const rows: Array<{ id: string; state: string; timeout_sec: number; network: NetworkPolicy | null; host_id: string | null; boot_id: string | null; failure_reason: string | null; snapshot_ref: string | null; snapshot_size_bytes: string | null; version: string; updated_at: Date }> =
      await tx.query(
        'SELECT id, state, timeout_sec, network, host_id, boot_id, failure_reason, snapshot_ref, snapshot_size_bytes, version, updated_at FROM sandboxes WHERE id = ANY($1::text[])',
        [[...needed]],
      );
    for (const r of rows) {
      changed.set(r.id, {
        state: r.state, timeoutSec: r.timeout_sec, network: r.network, hostId: r.host_id, bootId: r.boot_id, failureReason: r.failure_reason,
        snapshotRef: r.snapshot_ref, snapshotSizeBytes: r.snapshot_size_bytes === null ? null : Number(r.snapshot_size_bytes),
        version: Number(r.version), updatedAt: r.updated_at.toISOString(),
      });
    }
  }
  for (const stored of events) {
    const event = toSandboxEvent(stored);
    const id = stored.aggregateId;
    if (event.type === T.Requested || event.type === T.Claimed) {
      if (created.has(id) || changed.has(id)) throw new Error(`sandbox ${id} is already in the read model`);
      // A warm claim's row is born running on its host: the row the cold path's three events leave.
      const claimed = event.type === T.Claimed ? event.data : undefined;
      created.set(id, {
        teamId: event.data.teamId, template: event.data.template, vcpus: event.data.vcpus, memoryMb: event.data.memoryMb,
        timeoutSec: event.data.timeoutSec, network: event.data.network ?? null, templateId: event.data.templateId ?? null, state: stateAfter(event)!,
        hostId: claimed?.hostId ?? null, bootId: claimed?.bootId ?? null,
        failureReason: null, snapshotRef: null, snapshotSizeBytes: null, version: stored.seq, createdAt: stored.occurredAt, updatedAt: stored.occurredAt,
      });
      continue;
    }
    const row = created.get(id) ?? changed.get(id);
    if (!row) throw new Error(`${stored.type} for sandbox ${id} that the read model does not have`);
    evolveRow(row, event, stored);
  }
  // Rows travel as one JSON parameter each: serialised natively, unpacked by json_to_recordset.
  if (created.size > 0) {
    const rows = [...created].map(([id, r]) => ({
      id, team_id: r.teamId, state: r.state, template: r.template, vcpus: r.vcpus, memory_mb: r.memoryMb, timeout_sec: r.timeoutSec, network: r.network,
      template_id: r.templateId, host_id: r.hostId, boot_id: r.bootId, failure_reason: r.failureReason, snapshot_ref: r.snapshotRef,
      snapshot_size_bytes: r.snapshotSizeBytes, version: r.version, created_at: r.createdAt, updated_at: r.updatedAt,
    }));
    await tx.query(
      `INSERT INTO sandboxes (id, team_id, state, template, vcpus, memory_mb, timeout_sec, network, template_id, host_id, boot_id, failure_reason,
                             snapshot_ref, snapshot_size_bytes, version, created_at, updated_at)
       SELECT id, team_id, state, template, vcpus, memory_mb, timeout_sec, network, template_id, host_id, boot_id, failure_reason,
              snapshot_ref, snapshot_size_bytes, version, created_at, updated_at
       FROM json_to_recordset($1::json) AS r(id text, team_id text, state text, template text, vcpus integer, memory_mb integer, timeout_sec integer,
            network jsonb, template_id text, host_id text, boot_id text, failure_reason text, snapshot_ref text, snapshot_size_bytes bigint, version bigint,
            created_at timestamptz, updated_at timestamptz)`,
      [JSON.stringify(rows)],
    );
  }
  if (changed.size > 0) {
    const rows = [...changed].map(([id, r]) => ({
      id, state: r.state, timeout_sec: r.timeoutSec, network: r.network, host_id: r.hostId, boot_id: r.bootId, failure_reason: r.failureReason, snapshot_ref: r.snapshotRef,
      snapshot_size_bytes: r.snapshotSizeBytes, version: r.version, updated_at: r.updatedAt,
    }));
    await tx.query(
      `UPDATE sandboxes s SET state = u.state, timeout_sec = u.timeout_sec, network = u.network, host_id = u.host_id, boot_id = u.boot_id, failure_reason = u.failure_reason,
              snapshot_ref = u.snapshot_ref, snapshot_size_bytes = u.snapshot_size_bytes, version = u.version, updated_at = u.updated_at
       FROM json_to_recordset($1::json) AS u(id text, state text, timeout_sec integer, network jsonb, host_id text, boot_id text, failure_reason text, snapshot_ref text,
            snapshot_size_bytes bigint, version bigint, updated_at timestamptz)
       WHERE s.id = u.id`,
      [JSON.stringify(rows)],
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

import { Aggregate, Naming } from '@wrenn/contracts';
import { SandboxEventType as T } from '@wrenn/domain';
import { StoredEvent } from '@wrenn/eventlog';
import { Projection } from './projection';
import { EntityManager } from 'typeorm';

export const USAGE_PROJECTION = 'usage';

/**
 * Billing intervals, derived only from events (their occurredAt, never the clock):
 *
 * - compute opens at `started` or `resumed` and closes at the first of `paused`, `auto_paused`,
 *   `stop_requested`, `stopped`, `failed`, `lost`. It is weighted by the vcpus and memory the
 *   sandbox was requested with. `pause_requested` does not close it: the sandbox still runs
 *   while its snapshot is taken; `pause_failed` leaves it open.
 * - storage opens at `paused` / `auto_paused` with the event's `sizeBytes` (0 when the event has
 *   none) and closes at `resumed` or `stopped`; while resuming, or failed during a resume, the
 *   snapshot is still kept and still counts.
 *
 * A second open of an interval already open is ignored, a close with nothing open does nothing,
 * and an end before its start (clocks of two services) is clamped to the start. Every rule is
 * per event in stream order, so batching and replay cannot change the totals.
 */
const OPENS_COMPUTE: ReadonlySet<string> = new Set([T.Started, T.Claimed, T.Resumed]);
/** The events that give a sandbox its sizing: its request, or a warm claim (which also starts it). */
const BEGINS: ReadonlySet<string> = new Set([T.Requested, T.Claimed]);
const CLOSES_COMPUTE: ReadonlySet<string> = new Set([T.Paused, T.AutoPaused, T.StopRequested, T.Stopped, T.Failed, T.Lost]);
const OPENS_STORAGE: ReadonlySet<string> = new Set([T.Paused, T.AutoPaused]);
const CLOSES_STORAGE: ReadonlySet<string> = new Set([T.Resumed, T.Stopped]);

type Kind = 'compute' | 'storage';

interface Sizing {
  teamId: string;
  vcpus: number;
  memoryMb: number;
}

interface Interval {
  sandboxId: string;
  startSeq: number;
  kind: Kind;
  teamId: string;
  startMs: number;
  endMs: number | null;
  vcpus: number;
  memoryMb: number;
  sizeBytes: number;
  /** Already in the table (only its end can change), or opened by this run. */
  stored: boolean;
}

function eventMs(stored: StoredEvent): number {
  const ms = Date.parse(stored.occurredAt);
  if (!Number.isFinite(ms)) throw new Error(`${stored.type} at seq ${stored.seq} has no valid occurredAt`);
  return ms;
}

function snapshotSize(stored: StoredEvent): number {
  const size = (stored.data as { sizeBytes?: unknown }).sizeBytes;
  if (size === undefined) return 0;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new Error(`${stored.type} at seq ${stored.seq} has an invalid sizeBytes`);
  }
  return size;
}

const key = (sandboxId: string, kind: Kind) => `${kind}:${sandboxId}`;

async function applyUsageEvents(events: StoredEvent[], tx: EntityManager): Promise<void> {
  const sizing = new Map<string, Sizing>();
  const createdSizing = new Map<string, Sizing>();
  const open = new Map<string, Interval>();
  const touched: Interval[] = [];

  const needed = new Set<string>();
  const seen = new Set<string>();
  for (const e of events) {
    if (!seen.has(e.aggregateId) && !BEGINS.has(e.type)) needed.add(e.aggregateId);
    seen.add(e.aggregateId);
  }
  if (needed.size > 0) {
    const ids = [...needed];
    const rows: Array<{ sandbox_id: string; team_id: string; vcpus: number; memory_mb: number }> = await tx.query(
      'SELECT sandbox_id, team_id, vcpus, memory_mb FROM usage_sandboxes WHERE sandbox_id = ANY($1::text[])',
      [ids],
    );
    for (const r of rows) sizing.set(r.sandbox_id, { teamId: r.team_id, vcpus: r.vcpus, memoryMb: r.memory_mb });
    const intervals: Array<{ sandbox_id: string; start_seq: string; kind: Kind; team_id: string; start_ms: string; vcpus: number; memory_mb: number; size_bytes: string }> =
      await tx.query(
        'SELECT sandbox_id, start_seq, kind, team_id, start_ms, vcpus, memory_mb, size_bytes FROM usage_intervals WHERE sandbox_id = ANY($1::text[]) AND end_ms IS NULL',
        [ids],
      );
    for (const r of intervals) {
      open.set(key(r.sandbox_id, r.kind), {
        sandboxId: r.sandbox_id, startSeq: Number(r.start_seq), kind: r.kind, teamId: r.team_id, startMs: Number(r.start_ms),
        endMs: null, vcpus: r.vcpus, memoryMb: r.memory_mb, sizeBytes: Number(r.size_bytes), stored: true,
      });
    }
  }

  const close = (sandboxId: string, kind: Kind, atMs: number) => {
    const interval = open.get(key(sandboxId, kind));
    if (!interval) return;
    interval.endMs = Math.max(atMs, interval.startMs);
    open.delete(key(sandboxId, kind));
    if (interval.stored) touched.push(interval);
  };
  const openInterval = (stored: StoredEvent, kind: Kind, size: Sizing, atMs: number, sizeBytes: number) => {
    if (open.has(key(stored.aggregateId, kind))) return;
    const interval: Interval = {
      sandboxId: stored.aggregateId, startSeq: stored.seq, kind, teamId: size.teamId, startMs: atMs, endMs: null,
      vcpus: size.vcpus, memoryMb: size.memoryMb, sizeBytes, stored: false,
    };
    open.set(key(stored.aggregateId, kind), interval);
    touched.push(interval);
  };

  for (const stored of events) {
    if (stored.version !== 1) throw new Error(`${stored.type} v${stored.version} is not understood by this projection`);
    const id = stored.aggregateId;
    if (BEGINS.has(stored.type)) {
      if (sizing.has(id)) throw new Error(`sandbox ${id} is already in the usage model`);
      const data = stored.data as { teamId: string; vcpus: number; memoryMb: number };
      if (!Number.isSafeInteger(data.vcpus) || !Number.isSafeInteger(data.memoryMb) || typeof data.teamId !== 'string') {
        throw new Error(`${stored.type} at seq ${stored.seq} has no valid sizing`);
      }
      const size = { teamId: data.teamId, vcpus: data.vcpus, memoryMb: data.memoryMb };
      sizing.set(id, size);
      createdSizing.set(id, size);
      // A warm claim is also the start: its compute runs from this event, as from sandbox.started.
      if (OPENS_COMPUTE.has(stored.type)) openInterval(stored, 'compute', size, eventMs(stored), 0);
      continue;
    }
    const size = sizing.get(id);
    if (!size) throw new Error(`${stored.type} for sandbox ${id} that the usage model does not have`);
    const atMs = eventMs(stored);
    // Closes first: `resumed` closes storage and opens compute, `paused` the other way round.
    if (CLOSES_COMPUTE.has(stored.type)) close(id, 'compute', atMs);
    if (CLOSES_STORAGE.has(stored.type)) close(id, 'storage', atMs);
    if (OPENS_COMPUTE.has(stored.type)) openInterval(stored, 'compute', size, atMs, 0);
    if (OPENS_STORAGE.has(stored.type)) openInterval(stored, 'storage', size, atMs, snapshotSize(stored));
  }

  // Rows travel as one JSON parameter each: serialised natively, unpacked by json_to_recordset.
  if (createdSizing.size > 0) {
    const rows = [...createdSizing].map(([id, s]) => ({ sandbox_id: id, team_id: s.teamId, vcpus: s.vcpus, memory_mb: s.memoryMb }));
    await tx.query(
      `INSERT INTO usage_sandboxes (sandbox_id, team_id, vcpus, memory_mb)
       SELECT sandbox_id, team_id, vcpus, memory_mb FROM json_to_recordset($1::json) AS r(sandbox_id text, team_id text, vcpus integer, memory_mb integer)`,
      [JSON.stringify(rows)],
    );
  }
  const inserted = touched.filter((i) => !i.stored);
  if (inserted.length > 0) {
    const rows = inserted.map((i) => ({
      sandbox_id: i.sandboxId, start_seq: i.startSeq, kind: i.kind, team_id: i.teamId, start_ms: i.startMs, end_ms: i.endMs,
      vcpus: i.vcpus, memory_mb: i.memoryMb, size_bytes: i.sizeBytes,
    }));
    await tx.query(
      `INSERT INTO usage_intervals (sandbox_id, start_seq, kind, team_id, start_ms, end_ms, vcpus, memory_mb, size_bytes)
       SELECT sandbox_id, start_seq, kind, team_id, start_ms, end_ms, vcpus, memory_mb, size_bytes
       FROM json_to_recordset($1::json) AS r(sandbox_id text, start_seq bigint, kind text, team_id text, start_ms bigint, end_ms bigint,
            vcpus integer, memory_mb integer, size_bytes bigint)`,
      [JSON.stringify(rows)],
    );
  }
  const ended = touched.filter((i) => i.stored);
  if (ended.length > 0) {
    const rows = ended.map((i) => ({ sandbox_id: i.sandboxId, start_seq: i.startSeq, kind: i.kind, end_ms: i.endMs }));
    await tx.query(
      `UPDATE usage_intervals t SET end_ms = u.end_ms
       FROM json_to_recordset($1::json) AS u(sandbox_id text, start_seq bigint, kind text, end_ms bigint)
       WHERE t.sandbox_id = u.sandbox_id AND t.start_seq = u.start_seq AND t.kind = u.kind`,
      [JSON.stringify(rows)],
    );
  }
}

/** Running and snapshot-storage intervals per sandbox, the source of GET /v1/usage. */
export function usageProjection(naming: Naming): Projection {
  return {
    name: USAGE_PROJECTION,
    filterSubject: naming.aggregateWildcard(Aggregate.Sandbox),
    tables: ['usage_sandboxes', 'usage_intervals'],
    apply: (event, tx) => applyUsageEvents([event], tx),
    applyBatch: applyUsageEvents,
  };
}

import { HostHeartbeat, HostSandboxList, isLive } from '@wrenn/contracts';

/** What the reaper knows of one sandbox from the read model. */
export interface ProjectedSandbox {
  id: string;
  state: string;
  hostId: string | null;
  bootId: string | null;
  /** Milliseconds since the row last changed. */
  idleMs: number;
  /** Inactivity (seconds) after which a running sandbox is paused; 0 = never. */
  timeoutSec?: number;
}

export type InFlightAction =
  | { kind: 'fail'; sandboxId: string; reason: string }
  | { kind: 'redrive-destroy'; sandboxId: string }
  | { kind: 'redrive-pause'; sandboxId: string }
  | { kind: 'redrive-resume'; sandboxId: string }
  | { kind: 'wait'; sandboxId: string };

export interface SweepLimits {
  /** A pending sandbox (never placed) older than this was abandoned by a scheduler that died. */
  pendingGraceMs: number;
  /** A create older than this on a live agent of the same boot has hung. */
  createTimeoutMs: number;
  /** A destroy older than this is re-driven. */
  stopGraceMs: number;
}

/**
 * Decides what to do with a sandbox caught mid-operation (pending, starting, pausing, resuming,
 * stopping). Pure, so
 * the crash-recovery rules are unit-tested rather than discovered.
 *
 * The key fact is the agent's boot id: host work sent to a boot that is no longer the host's
 * current one died with that agent, and the new agent has already removed anything half-made.
 */
export function decideInFlight(sandbox: ProjectedSandbox, host: HostHeartbeat | undefined, now: number, limits: SweepLimits): InFlightAction {
  const id = sandbox.id;
  switch (sandbox.state) {
    case 'pending':
      return sandbox.idleMs > limits.pendingGraceMs
        ? { kind: 'fail', sandboxId: id, reason: 'interrupted before it was placed on a host' }
        : { kind: 'wait', sandboxId: id };
    case 'starting': {
      if (host && host.bootId !== sandbox.bootId && isLive(host, now)) {
        return { kind: 'fail', sandboxId: id, reason: `host agent ${sandbox.hostId} restarted while creating it` };
      }
      if (sandbox.idleMs > limits.createTimeoutMs) {
        return { kind: 'fail', sandboxId: id, reason: `create on host ${sandbox.hostId} did not finish in time` };
      }
      return { kind: 'wait', sandboxId: id };
    }
    case 'deleting':
    case 'pausing':
    case 'resuming':
      // Only worth re-driving when a live agent can take the work again (each host operation is
      // idempotent: a finished pause answers its snapshot, a finished resume its sandbox); a dead
      // host is the lost-host handler's business. Pauses and destroys record no boot id of their
      // own, so they are re-driven after the grace; a resume also when its agent restarted.
      if (host && isLive(host, now) && (host.bootId !== sandbox.bootId || sandbox.idleMs > limits.stopGraceMs)) {
        // The row's boot id is the create's or the resume's: for a pause or a destroy a newer
        // boot says nothing about whether that operation is still under way.
        if (sandbox.state !== 'resuming' && sandbox.idleMs <= limits.stopGraceMs) return { kind: 'wait', sandboxId: id };
        return { kind: sandbox.state === 'deleting' ? 'redrive-destroy' : sandbox.state === 'pausing' ? 'redrive-pause' : 'redrive-resume', sandboxId: id };
      }
      return { kind: 'wait', sandboxId: id };
    default:
      return { kind: 'wait', sandboxId: id };
  }
}

/**
 * States in which a sandbox legitimately runs on its host. `paused` is among them only so that a
 * host still running a sandbox the log calls paused never has it destroyed: destroy would delete
 * the snapshot too, and a resume then has nothing to come back to.
 */
const HELD_STATES = new Set(['pending', 'starting', 'running', 'pausing', 'paused', 'resuming', 'deleting']);
/**
 * States in which a host legitimately keeps a sandbox's pause snapshot. `running` is among them:
 * a pause whose answer was lost (timeout) leaves the row running while the host holds the
 * snapshot; that is recognised as paused, never destroyed.
 */
const SNAPSHOT_STATES = new Set(['running', 'pausing', 'paused', 'resuming', 'deleting']);

function unwanted(id: string, projected: ReadonlyMap<string, ProjectedSandbox>, settleMs: number, hostId: string, held: Set<string>, youngOnHost: (id: string) => boolean): boolean {
  const row = projected.get(id);
  // A warm claim runs on its host a moment before its one event is on the log (and longer if the
  // scheduler died in between): a sandbox the host made within settleMs is not judged yet. One
  // the log never comes to know is destroyed by a later sweep, once it is older.
  if (!row) return !youngOnHost(id);
  if (row.idleMs < settleMs) return false;
  return !held.has(row.state) || row.hostId !== hostId;
}

/**
 * Sandboxes a host reports that the platform no longer wants there: unknown to the read model,
 * in a state that holds nothing on a host (stopped, failed, lost — a host that came back after
 * its sandboxes were declared lost), or placed on another host. `pausedIds` are the host's pause
 * snapshots, judged the same way. Rows that changed within `settleMs` are left alone, so a create
 * whose events are still being projected is not mistaken for an orphan.
 */
export function findOrphans(
  onHost: readonly string[],
  projected: ReadonlyMap<string, ProjectedSandbox>,
  settleMs: number,
  hostId: string,
  pausedOnHost: readonly string[] = [],
  startedAt: Readonly<Record<string, number>> = {},
  now = Date.now(),
): string[] {
  const young = (id: string) => startedAt[id] !== undefined && now - startedAt[id] < settleMs;
  const running = onHost.filter((id) => unwanted(id, projected, settleMs, hostId, HELD_STATES, young));
  const snapshots = pausedOnHost.filter((id) => !onHost.includes(id) && unwanted(id, projected, settleMs, hostId, SNAPSHOT_STATES, () => false));
  return [...running, ...snapshots];
}

export type VanishedAction =
  | { kind: 'fail'; sandboxId: string; reason: string }
  /** Projected running but the host holds it paused: recognised as paused, left alone. */
  | { kind: 'paused-on-host'; sandboxId: string };

/**
 * Sandboxes the read model says run on this (live) host but the host does not run. A crashed or
 * externally killed sandbox becomes `failed`; one the host holds as a pause snapshot is not a
 * crash. Rows that changed within `settleMs` are skipped, so a create or resume in flight (the
 * row says running a moment before the host lists it, or the other way round) is not failed.
 */
export function findVanished(
  list: HostSandboxList,
  projected: Iterable<ProjectedSandbox>,
  settleMs: number,
  hostId: string,
): VanishedAction[] {
  const running = new Set(list.sandboxIds);
  const paused = new Set(list.pausedIds ?? []);
  const out: VanishedAction[] = [];
  for (const row of projected) {
    if (row.hostId !== hostId || row.state !== 'running' || row.idleMs < settleMs || running.has(row.id)) continue;
    out.push(
      paused.has(row.id)
        ? { kind: 'paused-on-host', sandboxId: row.id }
        : { kind: 'fail', sandboxId: row.id, reason: `no longer running on host ${hostId} (crashed or removed outside the platform)` },
    );
  }
  return out;
}

/** States whose host work is live: when the host's heartbeat stops, these are lost. */
const LOSABLE_STATES = new Set(['starting', 'running', 'pausing', 'resuming', 'deleting']);

/**
 * Sandboxes on hosts whose heartbeat stopped for longer than their lease (or that vanished from
 * the hosts bucket). Paused sandboxes stay paused: their snapshot waits on the disk of a host
 * that may come back, and resuming answers 503 until it does.
 */
export function findLost(
  projected: Iterable<ProjectedSandbox>,
  hosts: ReadonlyMap<string, HostHeartbeat>,
  now: number,
  watch: { sinceMs: number; startupGraceMs: number } = { sinceMs: 0, startupGraceMs: 0 },
): Array<{ sandboxId: string; hostId: string; reason: string }> {
  const out: Array<{ sandboxId: string; hostId: string; reason: string }> = [];
  // A reaper that just started may be starting with the whole platform, host agents included:
  // their beats are stale only because nothing ran. They get the grace to beat again first.
  if (now - watch.sinceMs < watch.startupGraceMs) return out;
  for (const row of projected) {
    if (!row.hostId || !LOSABLE_STATES.has(row.state)) continue;
    const beat = hosts.get(row.hostId);
    if (beat && isLive(beat, now)) continue;
    const reason = beat
      ? `host ${row.hostId} stopped sending heartbeats ${Math.round((now - beat.at) / 1000)} s ago (lease ${beat.leaseMs} ms)`
      : `host ${row.hostId} is no longer registered`;
    out.push({ sandboxId: row.id, hostId: row.hostId, reason });
  }
  return out;
}

export type TtlAction = { kind: 'pause'; sandboxId: string; idleMs: number } | { kind: 'wait'; sandboxId: string };

/**
 * The inactivity timer. A running sandbox with `timeoutSec > 0` is paused once nothing used it for
 * that long. "Used" is the later of its last recorded API activity and the moment it last became
 * running (start, resume, or a failed pause), so a resume restarts the timer and the timeout
 * keeps applying after it.
 */
export function decideTtl(sandbox: ProjectedSandbox, lastActivityMs: number | undefined, now: number): TtlAction {
  const timeoutSec = sandbox.timeoutSec ?? 0;
  if (sandbox.state !== 'running' || timeoutSec <= 0) return { kind: 'wait', sandboxId: sandbox.id };
  const runningSince = now - sandbox.idleMs;
  const last = Math.max(runningSince, lastActivityMs ?? 0);
  const idleMs = now - last;
  return idleMs >= timeoutSec * 1000 ? { kind: 'pause', sandboxId: sandbox.id, idleMs } : { kind: 'wait', sandboxId: sandbox.id };
}

/** What the reaper knows of a template from the read model. */
export interface ProjectedTemplate {
  id: string;
  state: string;
  /** Milliseconds since the row last changed. */
  idleMs: number;
}

/**
 * Templates left `creating` longer than a create can take: the catalog that was making them died
 * (the host answers a create within its timeout, success or failure). They are failed, which
 * frees their name.
 */
export function findAbandonedTemplates(templates: Iterable<ProjectedTemplate>, createTimeoutMs: number): string[] {
  const out: string[] = [];
  for (const t of templates) if (t.state === 'creating' && t.idleMs > createTimeoutMs) out.push(t.id);
  return out;
}

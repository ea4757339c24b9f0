import { HostHeartbeat, isLive } from '@wrenn/contracts';

/** What the reaper knows of one sandbox from the read model. */
export interface ProjectedSandbox {
  id: string;
  state: string;
  hostId: string | null;
  bootId: string | null;
  /** Milliseconds since the row last changed. */
  idleMs: number;
}

export type InFlightAction =
  | { kind: 'fail'; sandboxId: string; reason: string }
  | { kind: 'redrive-destroy'; sandboxId: string }
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
 * Decides what to do with a sandbox caught mid-operation (pending, starting, stopping). Pure, so
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
    case 'stopping':
      // Only worth re-driving when a live agent can take the destroy; a dead host is the
      // lost-host handler's business.
      if (host && isLive(host, now) && (host.bootId !== sandbox.bootId || sandbox.idleMs > limits.stopGraceMs)) {
        return { kind: 'redrive-destroy', sandboxId: id };
      }
      return { kind: 'wait', sandboxId: id };
    default:
      return { kind: 'wait', sandboxId: id };
  }
}

/** States in which a sandbox legitimately exists on its host. */
const HELD_STATES = new Set(['pending', 'starting', 'running', 'pausing', 'resuming', 'stopping']);

/**
 * Sandboxes a host reports that the platform no longer wants there: unknown to the read model,
 * or in a state that holds nothing on a host. Rows that changed within `settleMs` are left alone,
 * so a create whose events are still being projected is not mistaken for an orphan.
 */
export function findOrphans(onHost: readonly string[], projected: ReadonlyMap<string, ProjectedSandbox>, settleMs: number, hostId: string): string[] {
  return onHost.filter((id) => {
    const row = projected.get(id);
    if (!row) return true;
    if (row.idleMs < settleMs) return false;
    return !HELD_STATES.has(row.state) || row.hostId !== hostId;
  });
}

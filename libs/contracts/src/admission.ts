import type { HostHeartbeat } from './host';

/** Sandboxes admitted to a host that its report does not show yet, and the memory they asked for. */
export interface PendingOnHost {
  sandboxes: number;
  memoryMb: number;
}

export const NOTHING_PENDING: PendingOnHost = Object.freeze({ sandboxes: 0, memoryMb: 0 });

/** What a host is full of: the code's `details.resource`. */
export type FullResource = 'memory' | 'sandboxes';

export type Admission =
  | {
      admitted: true;
      /**
       * Room left once this sandbox is in, in requested MiB: the lesser of what the overcommit
       * still allows and the real memory left times the overcommit. The spreading key: agents
       * sharing one machine see the same real figures, so their own requests tell them apart.
       */
      headroomMb: number;
    }
  | { admitted: false; resource: FullResource; reason: string };

/** The part of a heartbeat admission reads; the host agent builds the same from fresh figures. */
export type HostReport = Pick<HostHeartbeat, 'hostId' | 'capacity' | 'used' | 'memory'>;

/**
 * Whether one more sandbox asking for `memoryMb` fits on a host. The one arithmetic for both the
 * scheduler (on the last heartbeat plus what it admitted since) and the host agent (on fresh
 * figures plus the creates under way), so the two never disagree about what "full" means.
 *
 * Memory is the hard limit, counted two ways:
 * - real use: what the machine really uses, plus `perSandboxMb` for each sandbox admitted but not
 *   yet in the figures and for this one, stays within the machine's memory − reserve. Idle
 *   sandboxes use far less than their limit, so this is what lets a host hold many of them.
 * - requested memory (the cgroup limits) adds up to at most (offered − reserve) × overcommit, which
 *   bounds how far the sandboxes together could outgrow the host if they all woke up. Offered is
 *   `capacity.memoryMb`: the machine's memory, or the share of it an agent is configured with.
 * CPU is not counted: sandboxes share it by weight. The sandbox count is a configured cap.
 * A report without memory figures (an older agent) is held to its requested memory, unovercommitted.
 */
export function admit(host: HostReport, pending: PendingOnHost, request: { memoryMb: number }): Admission {
  const sandboxes = host.used.sandboxes + pending.sandboxes;
  if (sandboxes + 1 > host.capacity.maxSandboxes) {
    return { admitted: false, resource: 'sandboxes', reason: `host ${host.hostId} runs its most sandboxes (${host.capacity.maxSandboxes}${pending.sandboxes ? `, ${pending.sandboxes} of them starting` : ''})` };
  }
  const requested = host.used.memoryMb + pending.memoryMb + request.memoryMb;
  const m = host.memory;
  if (!m) {
    if (requested > host.capacity.memoryMb) {
      return { admitted: false, resource: 'memory', reason: `host ${host.hostId} is out of memory: sandboxes would ask ${requested} MiB of its ${host.capacity.memoryMb} MiB` };
    }
    return { admitted: true, headroomMb: host.capacity.memoryMb - requested };
  }
  const usable = m.totalMb - m.reserveMb;
  if (request.memoryMb > usable) {
    return { admitted: false, resource: 'memory', reason: `host ${host.hostId} is out of memory: the sandbox asks ${request.memoryMb} MiB, more than the ${usable} MiB the host admits into (${m.totalMb} MiB less ${m.reserveMb} MiB reserved)` };
  }
  const real = m.usedMb + (pending.sandboxes + 1) * m.perSandboxMb;
  if (real > usable) {
    return {
      admitted: false,
      resource: 'memory',
      reason: `host ${host.hostId} is out of memory: ${m.usedMb} MiB really in use${pending.sandboxes ? ` and ${pending.sandboxes} sandboxes starting` : ''}, ${m.reserveMb} MiB reserved, of ${m.totalMb} MiB`,
    };
  }
  const offered = Math.max(0, Math.min(host.capacity.memoryMb, m.totalMb) - m.reserveMb);
  const committable = Math.floor(offered * m.overcommit);
  if (requested > committable) {
    return {
      admitted: false,
      resource: 'memory',
      reason: `host ${host.hostId} is out of memory: sandboxes would ask ${requested} MiB, over the ${committable} MiB it commits (${offered} MiB × overcommit ${m.overcommit})`,
    };
  }
  return { admitted: true, headroomMb: Math.min(committable - requested, Math.floor((usable - real) * m.overcommit)) };
}

import { HostHeartbeat, isLive, RuntimeKind } from '@wrenn/contracts';

export interface PlacementRequest {
  vcpus: number;
  memoryMb: number;
  runtime?: RuntimeKind;
}

/** Resources placed on a host since its last heartbeat, which the beat does not show yet. */
export type InFlight = ReadonlyMap<string, { sandboxes: number; vcpus: number; memoryMb: number }>;

/**
 * Picks the live host with the most free memory that fits the request (spreading load), or null.
 * Pure: the caller passes the heartbeats, the clock and what it has placed but not yet seen.
 */
export function chooseHost(
  hosts: readonly HostHeartbeat[],
  request: PlacementRequest,
  now: number,
  inFlight: InFlight = new Map(),
): HostHeartbeat | null {
  let best: { host: HostHeartbeat; freeMemory: number } | null = null;
  for (const host of hosts) {
    if (!isLive(host, now)) continue;
    if (request.runtime && host.runtime !== request.runtime) continue;
    const pending = inFlight.get(host.hostId) ?? { sandboxes: 0, vcpus: 0, memoryMb: 0 };
    const sandboxes = host.used.sandboxes + pending.sandboxes;
    const vcpus = host.used.vcpus + pending.vcpus;
    const memory = host.used.memoryMb + pending.memoryMb;
    if (sandboxes + 1 > host.capacity.maxSandboxes) continue;
    if (vcpus + request.vcpus > host.capacity.vcpus) continue;
    if (memory + request.memoryMb > host.capacity.memoryMb) continue;
    const freeMemory = host.capacity.memoryMb - memory - request.memoryMb;
    if (!best || freeMemory > best.freeMemory || (freeMemory === best.freeMemory && host.hostId < best.host.hostId)) {
      best = { host, freeMemory };
    }
  }
  return best?.host ?? null;
}

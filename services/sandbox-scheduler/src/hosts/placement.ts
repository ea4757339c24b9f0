import { admit, FullResource, HostHeartbeat, isLive, NOTHING_PENDING, PendingOnHost, RuntimeKind } from '@wrenn/contracts';

export interface PlacementRequest {
  memoryMb: number;
  /** Recorded on the sandbox and turned into a CPU weight on the host; not counted against the host. */
  vcpus?: number;
  runtime?: RuntimeKind;
}

/** Sandboxes admitted to a host that its last heartbeat does not show yet. */
export type InFlight = ReadonlyMap<string, PendingOnHost>;

/** A live host of the right runtime that had no room, and why. */
export interface FullHost {
  hostId: string;
  resource: FullResource;
  reason: string;
}

export type Choice = { host: HostHeartbeat; full: FullHost[] } | { host: null; full: FullHost[] };

/**
 * Picks the live host with the most headroom that admits the request (spreading load, see admit);
 * when none does, says which live hosts were full and of what. Pure: the caller passes the
 * heartbeats, the clock and what it admitted that the beats do not show yet. A host whose beat is
 * older than its lease is skipped, whatever it last said.
 */
export function chooseHost(hosts: readonly HostHeartbeat[], request: PlacementRequest, now: number, inFlight: InFlight = new Map()): Choice {
  let best: { host: HostHeartbeat; headroomMb: number } | null = null;
  const full: FullHost[] = [];
  for (const host of hosts) {
    if (!isLive(host, now)) continue;
    if (request.runtime && host.runtime !== request.runtime) continue;
    const verdict = admit(host, inFlight.get(host.hostId) ?? NOTHING_PENDING, request);
    if (!verdict.admitted) {
      full.push({ hostId: host.hostId, resource: verdict.resource, reason: verdict.reason });
      continue;
    }
    if (!best || verdict.headroomMb > best.headroomMb || (verdict.headroomMb === best.headroomMb && host.hostId < best.host.hostId)) {
      best = { host, headroomMb: verdict.headroomMb };
    }
  }
  return { host: best?.host ?? null, full };
}

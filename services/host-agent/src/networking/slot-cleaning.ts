/**
 * What cleans a network slot for its next sandbox without a program: the native addon's
 * netlink and /proc work (native/src/conntrack.cc, native/src/netns.cc), each on a worker
 * thread. A slot's netns is only ever joined by a thread made for that and ended after.
 */
interface SlotCleaningAddon {
  forgetFlows(ipv4: string): Promise<number>;
  flushFlowsIn(netnsPath: string): Promise<number>;
  processesIn(netnsPath: string): Promise<number[]>;
  flushNeighbours(netnsPath: string, device: string): Promise<number>;
}

let addon: SlotCleaningAddon | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const native = (): SlotCleaningAddon => (addon ??= require('@wrenn/native') as SlotCleaningAddon);

/**
 * Deletes every entry of the host's connection tracking table whose original direction comes
 * from or goes to `ipv4` (NAT and ESTABLISHED state of a sandbox's connections, either way);
 * answers how many. What `conntrack -D -s` and `-D -d` do.
 */
export function forgetFlows(ipv4: string): Promise<number> {
  return native().forgetFlows(ipv4);
}

/** Empties the connection tracking table of the netns at `netnsPath`. What `conntrack -F` does there. */
export async function flushFlowsIn(netnsPath: string): Promise<void> {
  await native().flushFlowsIn(netnsPath);
}

/** Pids of the processes in the netns at `netnsPath`. What `ip netns pids` answers. */
export function processesIn(netnsPath: string): Promise<number[]> {
  return native().processesIn(netnsPath);
}

/** Flushes the neighbour entries (but permanent ones) of a host device. What `ip neigh flush dev` does. */
export async function flushHostNeighbours(device: string): Promise<void> {
  await native().flushNeighbours('', device);
}

/** Flushes every neighbour entry (but permanent ones) of the netns at `netnsPath`. What `ip -n … neigh flush all` does. */
export async function flushNeighboursIn(netnsPath: string): Promise<void> {
  await native().flushNeighbours(netnsPath, '');
}

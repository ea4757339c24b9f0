/** The part of the native addon (native/src/conntrack.cc) that removes a slot's tracked connections. */
interface ConntrackAddon {
  forgetFlows(ipv4: string): Promise<number>;
  flushFlowsIn(netnsPath: string): Promise<number>;
}

let addon: ConntrackAddon | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const native = (): ConntrackAddon => (addon ??= require('@wrenn/native') as ConntrackAddon);

/**
 * Deletes every entry of the host's connection tracking table whose original direction comes
 * from or goes to `ipv4` (NAT and ESTABLISHED state of a sandbox's connections, either way);
 * answers how many. Over netlink, not by the conntrack program.
 */
export function forgetFlows(ipv4: string): Promise<number> {
  return native().forgetFlows(ipv4);
}

/** Empties the connection tracking table of the netns at `netnsPath` (joined by a thread of its own, never the agent's). */
export async function flushFlowsIn(netnsPath: string): Promise<void> {
  await native().flushFlowsIn(netnsPath);
}

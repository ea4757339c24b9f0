import { isGone, run } from './run-command';
import { SandboxNetwork } from './network-slot';

/**
 * The network a microVM guest sees, identical in every slot: a TAP device `tap0` inside the
 * slot's netns, the guest at 169.254.0.21/30 with the TAP side as its gateway. Because nothing
 * slot-specific reaches the guest, a memory snapshot taken in one slot restores in any other;
 * inside the netns the guest address is translated to and from the slot's sandbox address (the
 * one the host's firewall rules and the envd URL use), so to the host a VM looks exactly like a
 * namespace sandbox on its slot.
 */
export const GUEST_NETWORK = {
  tap: 'tap0',
  guestIp: '169.254.0.21',
  tapIp: '169.254.0.22',
  prefixLen: 30,
  netmask: '255.255.255.252',
  /** Locally administered, fixed: the guest's driver state in a snapshot expects the same MAC. */
  guestMac: '06:00:a9:fe:00:15',
  /** The guest's interface name, as its kernel names the first virtio-net device. */
  guestDevice: 'eth0',
} as const;

/** Kernel `ip=` argument that configures the guest's interface at boot (no DHCP, no autoconf). */
export function guestIpBootArg(): string {
  const g = GUEST_NETWORK;
  return `ip=${g.guestIp}::${g.tapIp}:${g.netmask}::${g.guestDevice}:off`;
}

function natRules(net: SandboxNetwork): string[][] {
  const g = GUEST_NETWORK;
  return [
    ['-t', 'nat', 'PREROUTING', '-i', 'eth0', '-d', net.sandboxIp, '-j', 'DNAT', '--to-destination', g.guestIp],
    ['-t', 'nat', 'POSTROUTING', '-o', 'eth0', '-s', g.guestIp, '-j', 'SNAT', '--to-source', net.sandboxIp],
  ];
}

/**
 * Adds the guest's TAP to a slot (its netns must exist) with forwarding and the address
 * translation; on failure removes what it added. Deleting the slot's netns removes all of it.
 */
export async function addGuestTap(net: SandboxNetwork): Promise<void> {
  const g = GUEST_NETWORK;
  const inNs = (...args: string[]) => run('ip', ['-n', net.netnsName, ...args]);
  const exec = (...args: string[]) => run('ip', ['netns', 'exec', net.netnsName, ...args]);
  try {
    await inNs('tuntap', 'add', 'dev', g.tap, 'mode', 'tap');
    await inNs('addr', 'add', `${g.tapIp}/${g.prefixLen}`, 'dev', g.tap);
    await inNs('link', 'set', g.tap, 'up');
    // Forwarding is per network namespace: on here, between eth0 and tap0 only.
    await exec('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    for (const [flag, table, chain, ...rule] of natRules(net)) await exec('iptables', '-w', flag, table, '-A', chain, ...rule);
  } catch (error) {
    await removeGuestTap(net).catch(() => undefined);
    throw error;
  }
}

/** Removes the TAP and its rules from a slot; parts already gone are fine. Returns every error. */
export async function removeGuestTap(net: SandboxNetwork): Promise<Error[]> {
  const errors: Error[] = [];
  const attempt = (p: Promise<unknown>) =>
    p.catch((e) => {
      if (!isGone(e)) errors.push(e as Error);
    });
  for (const [flag, table, chain, ...rule] of natRules(net)) {
    await attempt(run('ip', ['netns', 'exec', net.netnsName, 'iptables', '-w', flag, table, '-D', chain, ...rule]));
  }
  await attempt(run('ip', ['-n', net.netnsName, 'link', 'del', GUEST_NETWORK.tap]));
  return errors;
}

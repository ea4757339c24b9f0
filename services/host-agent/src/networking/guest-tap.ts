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

/** The slot's own table inside its netns (the host's tables never see the guest address). */
export const GUEST_NAT_TABLE = 'wrenn-guest';

/** The translation between the guest address and the slot's sandbox address, as one `nft -f` transaction. */
export function guestNatRuleset(net: Pick<SandboxNetwork, 'sandboxIp'>): string {
  const g = GUEST_NETWORK;
  const t = `ip ${GUEST_NAT_TABLE}`;
  return [
    `add table ${t}`,
    `add chain ${t} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add rule ${t} prerouting iifname "eth0" ip daddr ${net.sandboxIp} dnat to ${g.guestIp}`,
    `add rule ${t} postrouting oifname "eth0" ip saddr ${g.guestIp} snat to ${net.sandboxIp}`,
    '',
  ].join('\n');
}

/**
 * Inside the slot's netns, in one process (each `ip netns exec` costs a fork + exec, and this
 * runs on every create and resume): the TAP, its address, forwarding, and the translation
 * loaded in one nft transaction. Arguments: $1 tap, $2 tap address/prefix, then the ruleset
 * text on stdin.
 */
const GUEST_TAP_SCRIPT = String.raw`
set -eu
ip tuntap add dev "$1" mode tap
ip addr add "$2" dev "$1"
ip link set "$1" up
echo 1 > /proc/sys/net/ipv4/ip_forward
nft -f -
`;

/**
 * Adds the guest's TAP to a slot (its netns must exist) with forwarding and the address
 * translation; on failure removes what it added. Deleting the slot's netns removes all of it.
 */
export async function addGuestTap(net: SandboxNetwork): Promise<void> {
  const g = GUEST_NETWORK;
  try {
    await run('ip', ['netns', 'exec', net.netnsName, 'sh', '-c', GUEST_TAP_SCRIPT, 'wrenn-guest-tap', g.tap, `${g.tapIp}/${g.prefixLen}`], { input: guestNatRuleset(net) });
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
  await attempt(run('ip', ['netns', 'exec', net.netnsName, 'nft', 'delete', 'table', 'ip', GUEST_NAT_TABLE]));
  await attempt(run('ip', ['-n', net.netnsName, 'link', 'del', GUEST_NETWORK.tap]));
  return errors;
}

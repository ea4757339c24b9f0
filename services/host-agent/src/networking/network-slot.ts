import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { CleanupStack } from '../cleanup/cleanup-stack';
import { Firewall } from './firewall';
import { isGone, run } from './run-command';
import { SlotAddresses } from './slot-allocator';

/** A sandbox's network: its namespace and the veth pair that connects it to the host. */
export interface SandboxNetwork extends SlotAddresses {
  netnsName: string;
  netnsPath: string;
  hostVeth: string;
}

export interface SlotNaming {
  netnsPrefix: string;
  vethPrefix: string;
}

export function slotNames(naming: SlotNaming, addresses: SlotAddresses): SandboxNetwork {
  const netnsName = `${naming.netnsPrefix}${addresses.index}`;
  return { ...addresses, netnsName, netnsPath: `/var/run/netns/${netnsName}`, hostVeth: `${naming.vethPrefix}${addresses.index}` };
}

/**
 * Interfaces made in the netns from now on start with IPv6 disabled (lo, made with the netns,
 * keeps ::1). Runs before the veth peer moves in, so eth0 never has an IPv6 address.
 */
const NO_IPV6_SCRIPT = 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6';

/**
 * Builds one slot: netns, veth pair (peer moved in as eth0), addresses, default route, firewall
 * rules.
 *
 * IPv6 is disabled on both ends of the veth rather than filtered: slots have no IPv6 route
 * anywhere, so a filter would guard nothing but the link-local addresses the kernel adds by
 * itself, and fe80::…%eth0 of the host side would reach every host service listening on [::].
 * Disabled on the host side (which the sandbox cannot touch), the host drops any IPv6 packet
 * arriving on the veth even if the sandbox re-enables IPv6 on its own end. Every piece is pushed on a cleanup stack as soon as it exists, so a failing step leaves
 * nothing behind.
 */
export async function buildSlot(net: SandboxNetwork, firewall: Firewall): Promise<void> {
  const cleanup = new CleanupStack();
  const peer = `${net.hostVeth}p`;
  try {
    await run('ip', ['netns', 'add', net.netnsName]);
    cleanup.push('netns', () => run('ip', ['netns', 'del', net.netnsName]));
    const ipv6 = existsSync('/proc/sys/net/ipv6');
    if (ipv6) await run('ip', ['netns', 'exec', net.netnsName, 'sh', '-c', NO_IPV6_SCRIPT]);
    await run('ip', ['link', 'add', net.hostVeth, 'type', 'veth', 'peer', 'name', peer]);
    cleanup.push('veth', () => run('ip', ['link', 'del', net.hostVeth]).catch((e) => { if (!isGone(e)) throw e; }));
    if (ipv6) await writeFile(`/proc/sys/net/ipv6/conf/${net.hostVeth}/disable_ipv6`, '1');
    await run('ip', ['link', 'set', peer, 'netns', net.netnsName]);
    const inNs = (...args: string[]) => run('ip', ['-n', net.netnsName, ...args]);
    await inNs('link', 'set', peer, 'name', 'eth0');
    await inNs('addr', 'add', `${net.sandboxIp}/${net.prefixLen}`, 'dev', 'eth0');
    await inNs('link', 'set', 'eth0', 'up');
    await inNs('link', 'set', 'lo', 'up');
    await run('ip', ['addr', 'add', `${net.hostIp}/${net.prefixLen}`, 'dev', net.hostVeth]);
    await run('ip', ['link', 'set', net.hostVeth, 'up']);
    await inNs('route', 'add', 'default', 'via', net.hostIp);
    cleanup.push('firewall', async () => {
      const errors = await firewall.removeSlot(net.index, net.hostVeth, net.sandboxIp);
      if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
    });
    await firewall.addSlot(net.index, net.hostVeth, net.sandboxIp);
  } catch (error) {
    await cleanup.rollback(error);
  }
}

/**
 * Tears a slot down, trying every piece and returning all errors (a piece already gone is fine).
 * Deleting the netns also destroys the veth peer inside it, and with it the host side.
 */
export async function teardownSlot(net: SandboxNetwork, firewall: Firewall): Promise<Error[]> {
  const errors: Error[] = [];
  // Rules and interfaces are independent: removed side by side (a pause waits on this).
  const interfaces = async () => {
    for (const args of [['link', 'del', net.hostVeth], ['netns', 'del', net.netnsName]]) {
      await run('ip', args).catch((e) => {
        if (!isGone(e)) errors.push(e);
      });
    }
  };
  const [ruleErrors] = await Promise.all([firewall.removeSlot(net.index, net.hostVeth, net.sandboxIp), interfaces()]);
  return [...ruleErrors, ...errors];
}

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
 * Builds one slot: netns, veth pair (peer moved in as eth0), addresses, default route, firewall
 * rules. Every piece is pushed on a cleanup stack as soon as it exists, so a failing step leaves
 * nothing behind.
 */
export async function buildSlot(net: SandboxNetwork, firewall: Firewall): Promise<void> {
  const cleanup = new CleanupStack();
  const peer = `${net.hostVeth}p`;
  try {
    await run('ip', ['netns', 'add', net.netnsName]);
    cleanup.push('netns', () => run('ip', ['netns', 'del', net.netnsName]));
    await run('ip', ['link', 'add', net.hostVeth, 'type', 'veth', 'peer', 'name', peer]);
    cleanup.push('veth', () => run('ip', ['link', 'del', net.hostVeth]).catch((e) => { if (!isGone(e)) throw e; }));
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
      const errors = await firewall.removeSlot(net.hostVeth, net.hostIp, net.sandboxIp);
      if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
    });
    await firewall.addSlot(net.hostVeth, net.hostIp, net.sandboxIp);
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
  const [ruleErrors] = await Promise.all([firewall.removeSlot(net.hostVeth, net.hostIp, net.sandboxIp), interfaces()]);
  return [...ruleErrors, ...errors];
}

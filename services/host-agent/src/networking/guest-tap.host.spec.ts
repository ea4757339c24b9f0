import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { addGuestTap, GUEST_NETWORK, guestIpBootArg, removeGuestTap } from './guest-tap';
import { NetworkManager } from './network.manager';
import { unusedSlotCidr } from './host-addresses';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(232);

const KEY = `t${randomBytes(2).toString('hex')}`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args).toString();
const ours = () => sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`wrenn-${KEY}-`));

describe('guest TAP in a network slot (root, kernel)', () => {
  const manager = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 0 });

  after(async () => {
    await manager.stop({ removeHostRules: true });
    assert.deepEqual(ours(), [], 'no netns left');
  });

  it('puts tap0 inside the slot netns only, addressed, with the guest translated to the slot address', async () => {
    await manager.start();
    const net = await manager.acquire();
    try {
      await addGuestTap(net);
      const link = sh('ip', ['-n', net.netnsName, '-d', '-o', 'link', 'show', GUEST_NETWORK.tap]);
      assert.match(link, /tun type tap/, 'a TAP device');
      assert.match(link, /state (UP|UNKNOWN)|,UP/);
      assert.match(sh('ip', ['-n', net.netnsName, '-4', '-o', 'addr', 'show', GUEST_NETWORK.tap]), /inet 169\.254\.0\.22\/30/);
      assert.throws(() => execFileSync('ip', ['link', 'show', GUEST_NETWORK.tap], { stdio: 'pipe' }), 'not in the host netns');
      assert.equal(sh('ip', ['netns', 'exec', net.netnsName, 'cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '1');
      const nat = sh('ip', ['netns', 'exec', net.netnsName, 'nft', 'list', 'ruleset']);
      assert.match(nat, new RegExp(`iifname "eth0" ip daddr ${net.sandboxIp.replace(/\./g, '\\.')} dnat to 169\\.254\\.0\\.21`));
      assert.match(nat, new RegExp(`oifname "eth0" ip saddr 169\\.254\\.0\\.21 snat to ${net.sandboxIp.replace(/\./g, '\\.')}`));
      assert.equal(guestIpBootArg(), 'ip=169.254.0.21::169.254.0.22:255.255.255.252::eth0:off');

      assert.deepEqual(await removeGuestTap(net), []);
      assert.throws(() => execFileSync('ip', ['-n', net.netnsName, 'link', 'show', GUEST_NETWORK.tap], { stdio: 'pipe' }));
      assert.doesNotMatch(sh('ip', ['netns', 'exec', net.netnsName, 'nft', 'list', 'ruleset']), /169\.254/);
      assert.deepEqual(await removeGuestTap(net), [], 'removing again is fine');
    } finally {
      await manager.release(net.index);
    }
  });

  it('comes with every slot, pooled ones included, when the manager builds slots with it', async () => {
    const pooled = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 1, prepareSlot: addGuestTap });
    await pooled.start();
    const deadline = Date.now() + 10_000;
    while (pooled.describe().pooled < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const net = await pooled.acquire();
    try {
      assert.match(sh('ip', ['-n', net.netnsName, '-d', '-o', 'link', 'show', GUEST_NETWORK.tap]), /tun type tap/);
    } finally {
      await pooled.release(net.index);
      await pooled.stop();
    }
    const failing = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 0, prepareSlot: async () => { throw new Error('no TAP today'); } });
    await assert.rejects(failing.acquire(), /no TAP today/);
    assert.deepEqual(ours(), [], 'the slot is torn down when its TAP cannot be added');
  });

  it('leaves nothing when a step fails (tap0 already there)', async () => {
    const net = await manager.acquire();
    try {
      execFileSync('ip', ['-n', net.netnsName, 'link', 'add', GUEST_NETWORK.tap, 'type', 'veth', 'peer', 'name', 'blocker0']);
      await assert.rejects(addGuestTap(net));
      assert.doesNotMatch(sh('ip', ['netns', 'exec', net.netnsName, 'nft', 'list', 'ruleset']), /169\.254/);
    } finally {
      await manager.release(net.index);
    }
  });
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Firewall } from './firewall';

/**
 * The agent's nftables table on the real kernel, without traffic (egress.host.spec sends that):
 * a slot is set elements, so its cost does not grow with the number of slots; a restart keeps
 * live slots and removes the rest; teardown leaves no table. Veth names and addresses here are
 * only elements: no interface is made.
 */
const KEY = `f${randomBytes(2).toString('hex')}`;
const TABLE = `wrenn-${KEY}`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args).toString();
const tableExists = () => sh('nft', ['list', 'tables']).includes(`table ip ${TABLE}\n`);
const listing = () => sh('nft', ['list', 'table', 'ip', TABLE]);
const rulesOf = (text: string) => text.split('\n').filter((l) => /^\t\t[a-z]/.test(l) && !/^\t\t(type|flags|elements)\b/.test(l));
/** Every sandbox's elements, by set, from the kernel. */
const elements = () => {
  const doc = JSON.parse(sh('nft', ['-j', 'list', 'table', 'ip', TABLE])) as { nftables: Array<{ set?: { name: string; elem?: unknown[] } }> };
  return Object.fromEntries(doc.nftables.filter((i) => i.set && !['resolvers', 'denied_ranges'].includes(i.set.name)).map((i) => [i.set!.name, i.set!.elem?.length ?? 0]));
};
const NONE = { slots: 0, slot_src: 0, deny_out: 0, allow_out: 0, no_internet: 0 };
const slot = (i: number) => ({ index: i, hostVeth: `wh${KEY}-${i}`, sandboxIp: `10.${200 + Math.floor(i / 16384)}.${Math.floor(i / 64) % 256}.${(i % 64) * 4 + 2}` });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('the agent firewall as an nftables table (root, kernel)', () => {
  const firewall = new Firewall(KEY, 'wh', ['10.255.255.53']);

  after(async () => {
    assert.deepEqual(await firewall.teardown(), []);
    assert.equal(tableExists(), false, 'no table left');
    assert.deepEqual(await firewall.teardown(), [], 'tearing down again is fine');
  });

  it('sets up the same table however often it runs, keeping the slots it holds', async () => {
    await firewall.setup();
    const first = listing();
    await firewall.addSlot(1, slot(1).hostVeth, slot(1).sandboxIp);
    await firewall.setup();
    await new Firewall(KEY, 'wh', ['10.255.255.53']).setup(); // a second manager of the same agent key
    assert.deepEqual(rulesOf(listing()), rulesOf(first), 'no rule twice');
    assert.deepEqual(elements(), { ...NONE, slots: 1, slot_src: 1 });
    assert.deepEqual(await firewall.removeSlot(1, slot(1).hostVeth, slot(1).sandboxIp), []);
    assert.deepEqual(elements(), NONE);
  });

  it('replaces a policy in one step, merges nested CIDRs, and removes a slot even when its elements changed underneath', async () => {
    const s = slot(7);
    await firewall.addSlot(s.index, s.hostVeth, s.sandboxIp);
    await firewall.setEgress(s.index, { allowOut: ['10.0.0.0/24', '10.0.0.5/32', '192.168.1.1/32'], denyOut: ['8.8.8.8/32'], allowInternetAccess: false });
    assert.deepEqual(await firewall.egressOf(s.index), { deny: ['8.8.8.8/32'], allow: ['10.0.0.0/24', '192.168.1.1/32'], noInternet: true });
    // Removed by hand: the next change and the removal still converge on what is there.
    sh('nft', ['delete', 'element', 'ip', TABLE, 'allow_out', `{ ${s.sandboxIp} . 192.168.1.1/32 }`]);
    await firewall.setEgress(s.index, { allowOut: [], denyOut: ['1.1.1.1/32'], allowInternetAccess: true });
    assert.deepEqual(await firewall.egressOf(s.index), { deny: ['1.1.1.1/32'], allow: [], noInternet: false });
    sh('nft', ['delete', 'element', 'ip', TABLE, 'slots', `{ "${s.hostVeth}" }`]);
    assert.deepEqual(await firewall.removeSlot(s.index, s.hostVeth, s.sandboxIp), []);
    assert.deepEqual(elements(), NONE);
    assert.deepEqual(await firewall.removeSlot(s.index, s.hostVeth, s.sandboxIp), [], 'removing again is fine');
  });

  it('after a restart keeps the slots still in use, with their policy, and removes every other slot in one step', async () => {
    for (const i of [21, 22, 23]) await firewall.addSlot(i, slot(i).hostVeth, slot(i).sandboxIp);
    await firewall.setEgress(22, { allowOut: ['10.9.0.0/16'], denyOut: [], allowInternetAccess: false });
    await firewall.setEgress(23, { allowOut: ['10.8.0.0/16'], denyOut: ['9.9.9.9/32'], allowInternetAccess: true });
    const restarted = new Firewall(KEY, 'wh', ['10.255.255.53']);
    const { removed } = await restarted.reconcile([slot(22), slot(24)]);
    assert.equal(removed, 2 + 2 + 1 + 1, 'slots 21 and 23: slots, slot_src, allow_out and deny_out of 23');
    assert.deepEqual(await restarted.egressOf(22), { deny: [], allow: ['10.9.0.0/16'], noInternet: true });
    assert.deepEqual(await restarted.egressOf(24), { deny: [], allow: [], noInternet: false }, 'a kept slot without elements gets the defaults');
    assert.deepEqual(elements(), { ...NONE, slots: 2, slot_src: 2, allow_out: 1, no_internet: 1 });
    for (const i of [22, 24]) assert.deepEqual(await restarted.removeSlot(i, slot(i).hostVeth, slot(i).sandboxIp), []);
    assert.deepEqual(elements(), NONE);
  });

  it('adds and removes a slot as fast with 1,000 slots in the table as with 10; 1,000 come and go in bounded time, leaving nothing', async () => {
    // A second agent's table with 10 slots, measured in turns with this one's 1,000: both see the
    // same load of this shared machine, so the comparison holds when the load changes.
    const smallKey = `g${randomBytes(2).toString('hex')}`;
    const small = new Firewall(smallKey, 'wh', ['10.255.255.53']);
    const smallSlot = (i: number) => ({ ...slot(i), hostVeth: `wh${smallKey}-${i}` });
    try {
      await small.setup();
      for (let i = 0; i < 10; i++) await small.addSlot(i, smallSlot(i).hostVeth, smallSlot(i).sandboxIp);
      // The 1,000 come in one transaction (as kept slots do when the agent recovers after a restart).
      let t = performance.now();
      await firewall.addSlots(Array.from({ length: 1000 }, (_, i) => slot(100 + i)));
      const filled = performance.now() - t;
      assert.equal(elements().slots, 1000);
      const times = { small: { add: [] as number[], remove: [] as number[] }, big: { add: [] as number[], remove: [] as number[] } };
      const once = async (fw: Firewall, s: { index: number; hostVeth: string; sandboxIp: string }, into: { add: number[]; remove: number[] }) => {
        let t0 = performance.now();
        await fw.addSlot(s.index, s.hostVeth, s.sandboxIp);
        into.add.push(performance.now() - t0);
        t0 = performance.now();
        assert.deepEqual(await fw.removeSlot(s.index, s.hostVeth, s.sandboxIp), []);
        into.remove.push(performance.now() - t0);
      };
      for (let i = 5000; i < 5015; i++) {
        await once(small, smallSlot(i), times.small);
        await once(firewall, slot(i), times.big);
      }
      // A restart that keeps 10 of them removes the other 990 in one transaction; the 10 go one by one.
      t = performance.now();
      const kept = Array.from({ length: 10 }, (_, i) => slot(100 + i * 100));
      assert.equal((await new Firewall(KEY, 'wh', ['10.255.255.53']).reconcile(kept)).removed, 990 * 2);
      const emptied = performance.now() - t;
      assert.deepEqual(elements(), { ...NONE, slots: 10, slot_src: 10 });
      for (const s of kept) assert.deepEqual(await firewall.removeSlot(s.index, s.hostVeth, s.sandboxIp), []);
      assert.deepEqual(elements(), NONE, 'nothing left of the 1,000');
      const [a10, r10, a1000, r1000] = [times.small.add, times.small.remove, times.big.add, times.big.remove].map(median);
      const note = `p50 at 10: add ${a10.toFixed(1)} ms, remove ${r10.toFixed(1)} ms; at 1,000: add ${a1000.toFixed(1)} ms, remove ${r1000.toFixed(1)} ms; 1,000 added in one transaction in ${filled.toFixed(0)} ms, 990 removed by a restart in ${emptied.toFixed(0)} ms`;
      console.log(`# ${note}`);
      // Each is one `nft` process (tens of ms on a busy 2-core machine) whatever the table holds;
      // per-slot iptables rules grew ~2x (add) and ~6x (remove) from 10 to 1,000 (bench/firewall.bench.mjs).
      assert.ok(a1000 <= 1.5 * a10 + 10, `add: ${note}`);
      assert.ok(r1000 <= 1.5 * r10 + 10, `remove: ${note}`);
      assert.ok(filled < 10_000 && emptied < 10_000, note);
    } finally {
      assert.deepEqual(await small.teardown(), []);
      assert.ok(!sh('nft', ['list', 'tables']).includes(`table ip wrenn-${smallKey}\n`));
    }
  });
});

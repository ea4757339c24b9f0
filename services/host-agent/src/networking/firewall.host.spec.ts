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

  it('adds and removes a slot as fast with 1,000 slots in the table as with 10, and 1,000 come and go in bounded time', async () => {
    const sample = async (from: number) => {
      const adds: number[] = [];
      const removes: number[] = [];
      for (let i = from; i < from + 15; i++) {
        const s = slot(i);
        let t = performance.now();
        await firewall.addSlot(s.index, s.hostVeth, s.sandboxIp);
        adds.push(performance.now() - t);
        t = performance.now();
        assert.deepEqual(await firewall.removeSlot(s.index, s.hostVeth, s.sandboxIp), []);
        removes.push(performance.now() - t);
      }
      return { add: median(adds), remove: median(removes) };
    };
    /**
     * `op` for every slot of [from, to), one after the other: side by side is no faster, the
     * kernel commits one transaction at a time and a concurrent one makes `nft` fetch its cache again.
     */
    const each = async (from: number, to: number, op: (i: number) => Promise<void>) => {
      for (let i = from; i < to; i++) await op(i);
    };
    const fill = (from: number, to: number) => each(from, to, (i) => firewall.addSlot(i, slot(i).hostVeth, slot(i).sandboxIp));
    const started = performance.now();
    await fill(100, 110);
    const at10 = await sample(5000);
    await fill(110, 1100);
    const filled = performance.now() - started;
    assert.equal(elements().slots, 1000);
    const at1000 = await sample(5000);
    let t = performance.now();
    await each(100, 1100, async (i) => assert.deepEqual(await firewall.removeSlot(i, slot(i).hostVeth, slot(i).sandboxIp), []));
    const emptied = performance.now() - t;
    assert.deepEqual(elements(), NONE, 'nothing left of the 1,000');
    // Generous for a busy 2-core machine: each is one `nft` process (a few ms); per-slot rules
    // would grow with the table (iptables: ~10x from 10 to 1,000, see bench/firewall.bench.mjs).
    const note = `at 10: add ${at10.add.toFixed(1)} ms, remove ${at10.remove.toFixed(1)} ms; at 1,000: add ${at1000.add.toFixed(1)} ms, remove ${at1000.remove.toFixed(1)} ms; 1,000 added in ${filled.toFixed(0)} ms, removed in ${emptied.toFixed(0)} ms`;
    assert.ok(at1000.add <= 2 * at10.add + 15, `add: ${note}`);
    assert.ok(at1000.remove <= 2 * at10.remove + 15, `remove: ${note}`);
    assert.ok(filled < 120_000 && emptied < 120_000, note);
    console.log(`# ${note}`);
  });
});

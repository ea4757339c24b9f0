import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { egressOfElements, elementLines, elementsFromJson, elementsOf, renderTable, slotElements } from './nft-ruleset';

const OPTIONS = { agentKey: 'ab12', vethPrefix: 'wh', resolvers: ['10.255.255.53'] };

describe('renderTable', () => {
  const text = renderTable(OPTIONS);
  const lines = text.trim().split('\n');

  it('declares one table of the agent with its sets and chains, idempotently (add, then flush and refill)', () => {
    assert.equal(lines[0], 'add table ip wrenn-ab12');
    for (const set of ['slots', 'slot_src', 'deny_out', 'allow_out', 'no_internet', 'resolvers', 'denied_ranges']) assert.ok(lines.some((l) => l.startsWith(`add set ip wrenn-ab12 ${set} {`)), set);
    for (const chain of ['input', 'forward', 'from_sandbox', 'postrouting']) {
      const flush = lines.indexOf(`flush chain ip wrenn-ab12 ${chain}`);
      assert.ok(flush > 0, `${chain} emptied`);
      assert.ok(lines.findIndex((l) => l.startsWith(`add rule ip wrenn-ab12 ${chain} `)) > flush, `${chain} filled after it is emptied`);
    }
    assert.ok(lines.indexOf('add element ip wrenn-ab12 resolvers { 10.255.255.53 }') > lines.indexOf('flush set ip wrenn-ab12 resolvers'));
    assert.ok(!lines.some((l) => /flush set ip wrenn-ab12 (slots|slot_src|deny_out|allow_out|no_internet)$/.test(l)), 'sandboxes\' elements are kept');
    assert.ok(!/\bdelete\b/.test(text));
  });

  it('holds the egress order: own veth only, denyOut, allowOut, DNS on 53, internet off, private ranges, the rest', () => {
    const rules = lines.filter((l) => l.startsWith('add rule ip wrenn-ab12 from_sandbox ')).map((l) => l.slice('add rule ip wrenn-ab12 from_sandbox '.length));
    assert.deepEqual(rules, [
      'oifname "wh*" reject with icmp type admin-prohibited',
      'iifname . ip saddr != @slot_src drop',
      'ip saddr . ip daddr @deny_out reject with icmp type admin-prohibited',
      'ip saddr . ip daddr @allow_out accept',
      'ip daddr @resolvers meta l4proto { tcp, udp } th dport 53 accept',
      'ip saddr @no_internet reject with icmp type admin-prohibited',
      'ip daddr @denied_ranges reject with icmp type admin-prohibited',
      'accept',
    ]);
  });

  it('refuses everything to the host from a slot but replies and DNS; only replies towards a slot; masquerades what leaves', () => {
    const rulesOf = (chain: string) => lines.filter((l) => l.startsWith(`add rule ip wrenn-ab12 ${chain} `)).map((l) => l.slice(`add rule ip wrenn-ab12 ${chain} `.length));
    assert.deepEqual(rulesOf('input'), [
      'iifname @slots ct state established,related accept',
      'iifname @slots ip daddr @resolvers meta l4proto { tcp, udp } th dport 53 accept',
      'iifname @slots reject with icmp type admin-prohibited',
    ]);
    assert.deepEqual(rulesOf('forward'), ['iifname @slots jump from_sandbox', 'oifname @slots ct state established,related accept', 'oifname @slots drop']);
    assert.deepEqual(rulesOf('postrouting'), ['iifname @slots oifname != "wh*" masquerade']);
  });

  it('leaves the resolvers set empty when there are none (an empty element list does not parse)', () => {
    assert.ok(!renderTable({ ...OPTIONS, resolvers: [] }).includes('resolvers { }'));
  });

  it('refuses names that could break out of the ruleset text', () => {
    assert.throws(() => renderTable({ ...OPTIONS, vethPrefix: 'wh"; flush ruleset' }), /veth prefix/);
    assert.throws(() => slotElements({ hostVeth: 'x" }\nflush ruleset', sandboxIp: '10.0.0.2' }, { deny: [], allow: [], noInternet: false }), /interface name/);
  });
});

describe('slot elements', () => {
  const slot = { hostVeth: 'whab12-3', sandboxIp: '10.200.0.14' };
  const elements = slotElements(slot, { deny: ['8.8.8.8/32'], allow: ['10.0.0.0/24', '10.1.0.0/16'], noInternet: true });

  it('are a few elements keyed by the veth and by the sandbox address', () => {
    assert.deepEqual(elements, {
      slots: ['"whab12-3"'],
      slot_src: ['"whab12-3" . 10.200.0.14'],
      deny_out: ['10.200.0.14 . 8.8.8.8/32'],
      allow_out: ['10.200.0.14 . 10.0.0.0/24', '10.200.0.14 . 10.1.0.0/16'],
      no_internet: ['10.200.0.14'],
    });
  });

  it('add in one line per set, the slot last; delete the slot first; empty sets are left out', () => {
    assert.deepEqual(elementLines('ab12', 'add', elements), [
      'add element ip wrenn-ab12 deny_out { 10.200.0.14 . 8.8.8.8/32 }',
      'add element ip wrenn-ab12 allow_out { 10.200.0.14 . 10.0.0.0/24, 10.200.0.14 . 10.1.0.0/16 }',
      'add element ip wrenn-ab12 no_internet { 10.200.0.14 }',
      'add element ip wrenn-ab12 slot_src { "whab12-3" . 10.200.0.14 }',
      'add element ip wrenn-ab12 slots { "whab12-3" }',
    ]);
    const plain = slotElements(slot, { deny: [], allow: [], noInternet: false });
    assert.deepEqual(elementLines('ab12', 'delete', plain), ['delete element ip wrenn-ab12 slots { "whab12-3" }', 'delete element ip wrenn-ab12 slot_src { "whab12-3" . 10.200.0.14 }']);
  });

  it('read back from nft -j in the same syntax, and split by owner', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { table: { family: 'ip', name: 'wrenn-ab12' } },
        { set: { name: 'slots', elem: ['whab12-3', 'whab12-4'] } },
        { set: { name: 'slot_src', elem: [{ concat: ['whab12-3', '10.200.0.14'] }, { concat: ['whab12-4', '10.200.0.18'] }] } },
        { set: { name: 'deny_out', elem: [{ concat: ['10.200.0.14', '8.8.8.8'] }] } },
        { set: { name: 'allow_out', elem: [{ concat: ['10.200.0.14', { prefix: { addr: '10.0.0.0', len: 24 } }] }, { concat: ['10.200.0.18', { prefix: { addr: '10.1.0.0', len: 16 } }] }] } },
        { set: { name: 'no_internet', elem: ['10.200.0.14'] } },
        { set: { name: 'resolvers', elem: ['10.255.255.53'] } },
        { chain: { name: 'input' } },
      ],
    });
    const all = elementsFromJson(json);
    assert.deepEqual(all.slots, ['"whab12-3"', '"whab12-4"']);
    const mine = elementsOf(all, (k) => k.hostVeth === slot.hostVeth || k.sandboxIp === slot.sandboxIp);
    assert.deepEqual(mine, { ...elements, allow_out: ['10.200.0.14 . 10.0.0.0/24'] });
    assert.deepEqual(egressOfElements(mine), { deny: ['8.8.8.8/32'], allow: ['10.0.0.0/24'], noInternet: true });
    assert.deepEqual(elementsFromJson(JSON.stringify({ nftables: [{ set: { name: 'slots' } }] })).slots, [], 'an empty set has no elem');
  });
});

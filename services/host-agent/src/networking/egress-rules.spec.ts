import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DENIED_RANGES, egressRules } from './egress-rules';

const verdictFor = (rules: string[][], dest: string) => rules.find((r) => !r.includes("-d") || r[r.indexOf("-d") + 1] === dest)?.[r2(rules, dest)];
function r2(rules: string[][], dest: string): number {
  const rule = rules.find((r) => !r.includes('-d') || r[r.indexOf('-d') + 1] === dest)!;
  return rule.indexOf('-j') + 1;
}

describe('egressRules', () => {
  it('orders denyOut, then allowOut, then DNS on port 53, then the default ranges, then the internet', () => {
    const rules = egressRules({ denyOut: ['10.0.0.5/32'], allowOut: ['10.0.0.0/24'], allowInternetAccess: true }, ['10.255.255.53']);
    assert.deepEqual(rules.slice(0, 4), [
      ['-d', '10.0.0.5/32', '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'],
      ['-d', '10.0.0.0/24', '-j', 'ACCEPT'],
      ['-d', '10.255.255.53', '-p', 'udp', '--dport', '53', '-j', 'ACCEPT'],
      ['-d', '10.255.255.53', '-p', 'tcp', '--dport', '53', '-j', 'ACCEPT'],
    ]);
    assert.deepEqual(rules.slice(4, -1).map((r) => r[1]), [...DEFAULT_DENIED_RANGES]);
    assert.deepEqual(rules.at(-1), ['-j', 'ACCEPT']);
    assert.equal(verdictFor(rules, '10.0.0.5/32'), 'REJECT');
  });
  it('with the internet off ends in a refusal, with no default ranges needed', () => {
    const rules = egressRules({ denyOut: [], allowOut: ['192.168.1.10/32'], allowInternetAccess: false }, []);
    assert.deepEqual(rules, [['-d', '192.168.1.10/32', '-j', 'ACCEPT'], ['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited']]);
  });
  it('denies metadata, RFC 1918, CGNAT and loopback by default', () => {
    for (const r of ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8']) assert.ok(DEFAULT_DENIED_RANGES.includes(r), r);
  });
});

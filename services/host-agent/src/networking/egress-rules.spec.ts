import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DENIED_RANGES, disjointCidrs, egressElements } from './egress-rules';

describe('egressElements', () => {
  it('puts denyOut and allowOut (operator list included) into separate lists, the internet switch into a flag', () => {
    assert.deepEqual(egressElements({ denyOut: ['10.0.0.5/32'], allowOut: ['10.0.0.0/24'], allowInternetAccess: true }), { deny: ['10.0.0.5/32'], allow: ['10.0.0.0/24'], noInternet: false });
    assert.deepEqual(egressElements({ denyOut: [], allowOut: ['192.168.1.10/32'], allowInternetAccess: false }), { deny: [], allow: ['192.168.1.10/32'], noInternet: true });
  });
  it('denies metadata, RFC 1918, CGNAT and loopback by default', () => {
    for (const r of ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8']) assert.ok(DEFAULT_DENIED_RANGES.includes(r), r);
  });
  it('is accepted by an interval set as it stands: the default ranges never overlap', () => {
    assert.deepEqual(disjointCidrs(DEFAULT_DENIED_RANGES), [...DEFAULT_DENIED_RANGES]);
  });
});

describe('disjointCidrs', () => {
  it('drops duplicates and CIDRs inside another one, clears host bits, keeps bare addresses as /32', () => {
    assert.deepEqual(disjointCidrs(['10.0.0.5/32', '10.0.0.0/24', '10.0.0.7/24', '8.8.8.8', '8.8.8.8/32', '10.0.1.0/24']), ['8.8.8.8/32', '10.0.0.0/24', '10.0.1.0/24']);
    assert.deepEqual(disjointCidrs(['1.2.3.4/0', '10.0.0.0/8']), ['0.0.0.0/0']);
    assert.deepEqual(disjointCidrs([]), []);
  });
  it('keeps neighbours that do not nest', () => {
    assert.deepEqual(disjointCidrs(['10.0.0.128/25', '10.0.0.0/25']), ['10.0.0.0/25', '10.0.0.128/25']);
  });
  it('refuses what is not an IPv4 CIDR', () => {
    assert.throws(() => disjointCidrs(['10.0.0.300/32']), /not an IPv4/);
    assert.throws(() => disjointCidrs(['10.0.0.0/33']), /not an IPv4/);
    assert.throws(() => disjointCidrs(['::1/128']), /not an IPv4/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, WrennError } from './errors';
import { normaliseNetworkPolicy, parseEgressEntry, requireNetworkPolicy } from './network-policy';

describe('egress policy entries', () => {
  it('reads addresses, CIDRs (host bits cleared) and domain names', () => {
    assert.deepEqual(parseEgressEntry('8.8.8.8'), { kind: 'cidr', cidr: '8.8.8.8/32' });
    assert.deepEqual(parseEgressEntry('10.1.2.3/8'), { kind: 'cidr', cidr: '10.0.0.0/8' });
    assert.deepEqual(parseEgressEntry('0.0.0.0/0'), { kind: 'cidr', cidr: '0.0.0.0/0' });
    assert.deepEqual(parseEgressEntry('Mirror.Example.com.'), { kind: 'domain', name: 'mirror.example.com' });
  });
  it('refuses what is not one, IPv6 included', () => {
    for (const bad of ['', '10.0.0.0/33', '10.0.0.0/', '300.1.1.1', '1.2.3', '10.0.0.0/8/1', '::1', '2001:db8::/32', 'a b', '-x.com', 'x.com/24', 42]) {
      assert.ok('error' in parseEgressEntry(bad), `accepted ${String(bad)}`);
    }
  });
  it('reports every bad entry by its place and takes nothing of a bad policy', () => {
    const result = normaliseNetworkPolicy({ allowOut: ['1.1.1.1', '10.0.0.0/99'], denyOut: 'x', allowInternetAccess: 'no' });
    assert.deepEqual(Object.keys('problems' in result ? result.problems : {}).sort(), ['allowInternetAccess', 'allowOut[1]', 'denyOut']);
  });
  it('defaults: empty lists, internet on; duplicates dropped', () => {
    assert.deepEqual(normaliseNetworkPolicy({}), { policy: { allowOut: [], denyOut: [], allowInternetAccess: true } });
    assert.deepEqual(normaliseNetworkPolicy({ allowOut: ['1.1.1.1', '1.1.1.1/32'], allowInternetAccess: false }), { policy: { allowOut: ['1.1.1.1/32'], denyOut: [], allowInternetAccess: false } });
  });

  it('requireNetworkPolicy answers the normalised policy or one 400 naming every problem', () => {
    assert.deepEqual(requireNetworkPolicy({ allowOut: ['8.8.8.8', '8.8.8.8'] }), { allowOut: ['8.8.8.8/32'], denyOut: [], allowInternetAccess: true });
    assert.throws(
      () => requireNetworkPolicy({ allowOut: ['10.0.0.0/99'], allowInternetAccess: 'yes' }),
      (e: unknown) =>
        e instanceof WrennError && e.code === ErrorCode.ValidationFailed && /^bad network policy: allowOut\[0\] .+; allowInternetAccess must be a boolean$/.test(e.message) &&
        Object.keys(e.details?.fields as object).join() === 'allowOut[0],allowInternetAccess',
    );
    assert.throws(() => requireNetworkPolicy(null), (e: unknown) => e instanceof WrennError && e.message === 'bad network policy: allowOut must be an array of strings');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sandboxResolvConf, sandboxResolvers } from './dns';

describe('sandboxResolvConf', () => {
  it("keeps the host's reachable nameservers", () => {
    assert.match(sandboxResolvConf('search x\nnameserver 10.255.255.53\n'), /^nameserver 10\.255\.255\.53$/m);
  });
  it('drops loopback resolvers, which a sandbox cannot reach, and falls back', () => {
    const conf = sandboxResolvConf('nameserver 127.0.0.53\n', ['9.9.9.9']);
    assert.doesNotMatch(conf, /127\.0\.0\.53/);
    assert.match(conf, /^nameserver 9\.9\.9\.9$/m);
  });
});

describe('sandboxResolvers', () => {
  it('keeps IPv4 resolvers, private ones too, without loopback or IPv6 ones', () => {
    assert.deepEqual(sandboxResolvers('nameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver fd00::1\nnameserver 10.255.255.53\n'), ['10.255.255.53']);
  });
});

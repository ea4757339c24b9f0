import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED_DEVICES } from './cgroup.manager';
import { parseDeviceRule } from './device-rule';

describe(parseDeviceRule.name, () => {
  it('reads the v1 devices.allow syntax: numbers, wildcards, access letters', () => {
    assert.deepEqual(parseDeviceRule('c 1:3 rwm'), { type: 'c', major: 1, minor: 3, access: 'rwm' });
    assert.deepEqual(parseDeviceRule('c 136:* rw'), { type: 'c', major: 136, minor: -1, access: 'rw' });
    assert.deepEqual(parseDeviceRule('b *:* m'), { type: 'b', major: -1, minor: -1, access: 'm' });
    assert.deepEqual(parseDeviceRule('a'), { type: 'a', major: -1, minor: -1, access: 'rwm' });
    assert.deepEqual(parseDeviceRule('c 4095:1048575'), { type: 'c', major: 4095, minor: 1048575, access: 'rwm' }, 'no access: all of it, as v1');
  });

  it('reads every rule of the sandbox allowlist', () => {
    assert.deepEqual(
      ALLOWED_DEVICES.map((r) => parseDeviceRule(r)).map((r) => `${r.type} ${r.major}:${r.minor} ${r.access}`),
      ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:-1 rwm'],
    );
  });

  it('refuses what the kernel would not take, with a typed error', () => {
    for (const bad of ['x 1:3 rwm', 'c 1 rwm', 'c 1:3 rwx', 'c 1:3 rr', 'c 4096:0 r', 'c 1:1048576 r', 'c -1:3 r', '', 'a 1:3 r']) {
      assert.throws(() => parseDeviceRule(bad), (e: { code?: string; details?: { rule?: string } }) => e.code === 'validation_failed' && e.details?.rule === bad, bad);
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostHeartbeat } from '@wrenn/contracts';
import { chooseHost } from './placement';

const NOW = 1_000_000;
function host(id: string, over: Partial<HostHeartbeat> = {}): HostHeartbeat {
  return {
    hostId: id,
    bootId: `boot-${id}`,
    runtime: 'namespace',
    capacity: { vcpus: 8, memoryMb: 8192, maxSandboxes: 10 },
    used: { sandboxes: 0, vcpus: 0, memoryMb: 0 },
    at: NOW - 1000,
    leaseMs: 6000,
    version: '0.1.0', dataPlaneUrl: 'http://127.0.0.1:1',
    ...over,
  };
}

describe('chooseHost', () => {
  it('returns null when there is no host', () => {
    assert.equal(chooseHost([], { vcpus: 1, memoryMb: 512 }, NOW), null);
  });
  it('skips hosts whose heartbeat is older than their lease', () => {
    const stale = host('a', { at: NOW - 7000 });
    assert.equal(chooseHost([stale], { vcpus: 1, memoryMb: 512 }, NOW), null);
  });
  it('prefers the host with the most free memory', () => {
    const busy = host('a', { used: { sandboxes: 3, vcpus: 3, memoryMb: 6000 } });
    const idle = host('b');
    assert.equal(chooseHost([busy, idle], { vcpus: 1, memoryMb: 512 }, NOW)?.hostId, 'b');
  });
  it('refuses a host that would exceed vcpus, memory or sandbox count', () => {
    assert.equal(chooseHost([host('a', { used: { sandboxes: 0, vcpus: 8, memoryMb: 0 } })], { vcpus: 1, memoryMb: 1 }, NOW), null);
    assert.equal(chooseHost([host('a')], { vcpus: 1, memoryMb: 9000 }, NOW), null);
    assert.equal(chooseHost([host('a', { used: { sandboxes: 10, vcpus: 0, memoryMb: 0 } })], { vcpus: 1, memoryMb: 1 }, NOW), null);
  });
  it('counts placements the heartbeat has not reported yet', () => {
    const a = host('a');
    const b = host('b', { used: { sandboxes: 1, vcpus: 1, memoryMb: 1024 } });
    const inFlight = new Map([['a', { sandboxes: 2, vcpus: 2, memoryMb: 2048 }]]);
    assert.equal(chooseHost([a, b], { vcpus: 1, memoryMb: 512 }, NOW, inFlight)?.hostId, 'b');
  });
  it('only places on hosts of the requested runtime', () => {
    const fc = host('a', { runtime: 'firecracker' });
    assert.equal(chooseHost([fc], { vcpus: 1, memoryMb: 512, runtime: 'namespace' }, NOW), null);
  });
});

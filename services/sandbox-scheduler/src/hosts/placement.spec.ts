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
    memory: { totalMb: 8192, usedMb: 1024, reserveMb: 512, overcommit: 4, perSandboxMb: 16 },
    at: NOW - 1000,
    leaseMs: 6000,
    version: '0.1.0', dataPlaneUrl: 'http://127.0.0.1:1',
    ...over,
  };
}
const mem = (usedMb: number, over: Partial<NonNullable<HostHeartbeat['memory']>> = {}) => ({ totalMb: 8192, usedMb, reserveMb: 512, overcommit: 4, perSandboxMb: 16, ...over });

describe('chooseHost', () => {
  it('returns no host when there is none', () => {
    assert.deepEqual(chooseHost([], { vcpus: 1, memoryMb: 512 }, NOW), { host: null, full: [] });
  });
  it('skips hosts whose heartbeat is older than their lease, without calling them full', () => {
    const stale = host('a', { at: NOW - 7000 });
    assert.deepEqual(chooseHost([stale], { vcpus: 1, memoryMb: 512 }, NOW), { host: null, full: [] });
  });
  it('prefers the host with the most real memory left, not the fewest requested', () => {
    const busy = host('a', { used: { sandboxes: 3, vcpus: 3, memoryMb: 6000 }, memory: mem(1100) });
    const idle = host('b', { memory: mem(3000) });
    assert.equal(chooseHost([busy, idle], { vcpus: 1, memoryMb: 512 }, NOW).host?.hostId, 'a');
  });
  it('does not count vCPUs against the host', () => {
    const a = host('a', { used: { sandboxes: 5, vcpus: 800, memoryMb: 0 } });
    assert.equal(chooseHost([a], { vcpus: 64, memoryMb: 1 }, NOW).host?.hostId, 'a');
  });
  it('says which live hosts were full and of what', () => {
    const choice = chooseHost(
      [host('a', { memory: mem(7700) }), host('b', { used: { sandboxes: 10, vcpus: 0, memoryMb: 0 } }), host('c', { at: NOW - 7000 })],
      { vcpus: 1, memoryMb: 1 },
      NOW,
    );
    assert.equal(choice.host, null);
    assert.deepEqual(choice.full.map((f) => [f.hostId, f.resource]), [['a', 'memory'], ['b', 'sandboxes']]);
    assert.match(choice.full[0].reason, /host a is out of memory: 7700 MiB really in use, 512 MiB reserved, of 8192 MiB/);
  });
  it('refuses by requested memory past the overcommit even when real use is low', () => {
    // (8192 − 512) × 4 = 30,720 MiB may be asked for.
    assert.equal(chooseHost([host('a', { used: { sandboxes: 1, vcpus: 1, memoryMb: 30_208 } })], { memoryMb: 512 }, NOW).host?.hostId, 'a');
    assert.equal(chooseHost([host('a', { used: { sandboxes: 1, vcpus: 1, memoryMb: 30_209 } })], { memoryMb: 512 }, NOW).host, null);
  });
  it('counts placements the heartbeat has not reported yet', () => {
    // a has room for 3 more (48 MiB of real memory), b has more requested but plenty of room.
    const a = host('a', { memory: mem(8192 - 512 - 48) });
    const b = host('b', { used: { sandboxes: 1, vcpus: 1, memoryMb: 1024 }, memory: mem(6000) });
    assert.equal(chooseHost([a], { memoryMb: 512 }, NOW, new Map([['a', { sandboxes: 2, memoryMb: 1024 }]])).host?.hostId, 'a');
    assert.equal(chooseHost([a], { memoryMb: 512 }, NOW, new Map([['a', { sandboxes: 3, memoryMb: 1536 }]])).host, null);
    assert.equal(chooseHost([a, b], { memoryMb: 512 }, NOW, new Map([['a', { sandboxes: 3, memoryMb: 1536 }]])).host?.hostId, 'b');
  });
  it('only places on hosts of the requested runtime', () => {
    const fc = host('a', { runtime: 'firecracker' });
    assert.deepEqual(chooseHost([fc], { vcpus: 1, memoryMb: 512, runtime: 'namespace' }, NOW), { host: null, full: [] });
  });
});

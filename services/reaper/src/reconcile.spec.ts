import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostHeartbeat } from '@wrenn/contracts';
import { decideInFlight, findOrphans, ProjectedSandbox } from './reconcile';

const NOW = 10_000_000;
const LIMITS = { pendingGraceMs: 30_000, createTimeoutMs: 90_000, stopGraceMs: 60_000 };
const beat = (bootId: string, at = NOW - 500): HostHeartbeat => ({
  hostId: 'h1', bootId, runtime: 'namespace', capacity: { vcpus: 4, memoryMb: 4096, maxSandboxes: 8 },
  used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at, leaseMs: 6000, version: '0.1.0', dataPlaneUrl: 'http://127.0.0.1:1',
});
const sb = (over: Partial<ProjectedSandbox>): ProjectedSandbox => ({ id: 'sb_1', state: 'starting', hostId: 'h1', bootId: 'b1', idleMs: 1000, ...over });

describe('decideInFlight', () => {
  it('fails a create whose host agent restarted (new boot id)', () => {
    assert.equal(decideInFlight(sb({}), beat('b2'), NOW, LIMITS).kind, 'fail');
  });
  it('waits for a create on the same live boot', () => {
    assert.equal(decideInFlight(sb({}), beat('b1'), NOW, LIMITS).kind, 'wait');
  });
  it('fails a create that hung past the create timeout', () => {
    assert.equal(decideInFlight(sb({ idleMs: 100_000 }), beat('b1'), NOW, LIMITS).kind, 'fail');
  });
  it('does not decide on a dead host until the create timeout (it may come back)', () => {
    assert.equal(decideInFlight(sb({}), beat('b2', NOW - 60_000), NOW, LIMITS).kind, 'wait');
  });
  it('fails an abandoned pending sandbox only after the grace period', () => {
    assert.equal(decideInFlight(sb({ state: 'pending', hostId: null, bootId: null, idleMs: 5000 }), undefined, NOW, LIMITS).kind, 'wait');
    assert.equal(decideInFlight(sb({ state: 'pending', hostId: null, bootId: null, idleMs: 31_000 }), undefined, NOW, LIMITS).kind, 'fail');
  });
  it('re-drives a destroy interrupted by an agent restart', () => {
    assert.equal(decideInFlight(sb({ state: 'stopping' }), beat('b2'), NOW, LIMITS).kind, 'redrive-destroy');
    assert.equal(decideInFlight(sb({ state: 'stopping' }), beat('b1'), NOW, LIMITS).kind, 'wait');
  });
  it('leaves settled sandboxes alone', () => {
    assert.equal(decideInFlight(sb({ state: 'running', idleMs: 1e9 }), beat('b2'), NOW, LIMITS).kind, 'wait');
  });
});

describe('findOrphans', () => {
  const rows = new Map<string, ProjectedSandbox>([
    ['sb_run', sb({ id: 'sb_run', state: 'running', idleMs: 60_000 })],
    ['sb_failed', sb({ id: 'sb_failed', state: 'failed', idleMs: 60_000 })],
    ['sb_fresh_failed', sb({ id: 'sb_fresh_failed', state: 'failed', idleMs: 100 })],
    ['sb_elsewhere', sb({ id: 'sb_elsewhere', state: 'running', hostId: 'h2', idleMs: 60_000 })],
  ]);
  it('destroys what the platform does not know or no longer wants on this host', () => {
    const orphans = findOrphans(['sb_run', 'sb_failed', 'sb_unknown', 'sb_fresh_failed', 'sb_elsewhere'], rows, 5000, 'h1');
    assert.deepEqual(orphans.sort(), ['sb_elsewhere', 'sb_failed', 'sb_unknown']);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostHeartbeat } from '@wrenn/contracts';
import { decideInFlight, decideTtl, findAbandonedTemplates, findLost, findOrphans, findVanished, ProjectedSandbox } from './reconcile';

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
  it('re-drives a destroy left mid-way once the grace has passed on a live host', () => {
    assert.equal(decideInFlight(sb({ state: 'deleting', idleMs: 61_000 }), beat('b2'), NOW, LIMITS).kind, 'redrive-destroy');
    assert.equal(decideInFlight(sb({ state: 'deleting', idleMs: 61_000 }), beat('b1'), NOW, LIMITS).kind, 'redrive-destroy');
    assert.equal(decideInFlight(sb({ state: 'deleting' }), beat('b1'), NOW, LIMITS).kind, 'wait');
  });
  it('does not re-drive a destroy under way just because the agent restarted since the sandbox started', () => {
    // The row's boot id is the create's: a destroy records none, so a boot id that differs says
    // nothing about the destroy, which a second one would race (one of them answering 409).
    assert.equal(decideInFlight(sb({ state: 'deleting', idleMs: 200 }), beat('b2'), NOW, LIMITS).kind, 'wait');
  });
  it('finishes a pause left mid-way once the grace has passed on a live host', () => {
    assert.equal(decideInFlight(sb({ state: 'pausing' }), beat('b1'), NOW, LIMITS).kind, 'wait');
    assert.equal(decideInFlight(sb({ state: 'pausing', idleMs: 61_000 }), beat('b1'), NOW, LIMITS).kind, 'redrive-pause');
    assert.equal(decideInFlight(sb({ state: 'pausing', idleMs: 61_000 }), beat('b1', NOW - 60_000), NOW, LIMITS).kind, 'wait');
  });
  it('finishes a resume whose agent restarted, or that hung past the grace', () => {
    assert.equal(decideInFlight(sb({ state: 'resuming' }), beat('b2'), NOW, LIMITS).kind, 'redrive-resume');
    assert.equal(decideInFlight(sb({ state: 'resuming' }), beat('b1'), NOW, LIMITS).kind, 'wait');
    assert.equal(decideInFlight(sb({ state: 'resuming', idleMs: 61_000 }), beat('b1'), NOW, LIMITS).kind, 'redrive-resume');
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
  it('leaves a sandbox its host made within the settle time alone though the log does not know it yet (a warm claim before its event), and destroys it once older', () => {
    const startedAt = { sb_claimed: NOW - 1000, sb_abandoned: NOW - 6000 };
    const orphans = findOrphans(['sb_run', 'sb_claimed', 'sb_abandoned', 'sb_unknown'], rows, 5000, 'h1', [], startedAt, NOW);
    assert.deepEqual(orphans.sort(), ['sb_abandoned', 'sb_unknown']);
    // The same sandbox, a sweep later: the scheduler that claimed it died before recording it.
    assert.deepEqual(findOrphans(['sb_claimed'], rows, 5000, 'h1', [], startedAt, NOW + 4000), ['sb_claimed']);
  });
});

describe('findOrphans with pause snapshots', () => {
  const rows = new Map<string, ProjectedSandbox>([
    ['sb_paused', sb({ id: 'sb_paused', state: 'paused', idleMs: 60_000 })],
    ['sb_run', sb({ id: 'sb_run', state: 'running', idleMs: 60_000 })],
    ['sb_stopped', sb({ id: 'sb_stopped', state: 'deleted', idleMs: 60_000 })],
    ['sb_lost', sb({ id: 'sb_lost', state: 'lost', idleMs: 60_000 })],
  ]);
  it('keeps snapshots of paused sandboxes, and of a running one whose pause answer was lost', () => {
    assert.deepEqual(findOrphans([], rows, 5000, 'h1', ['sb_paused', 'sb_run']), []);
  });
  it('destroys snapshots nobody wants, and sandboxes declared lost when their host comes back', () => {
    assert.deepEqual(findOrphans(['sb_lost'], rows, 5000, 'h1', ['sb_stopped', 'sb_unknown']).sort(), ['sb_lost', 'sb_stopped', 'sb_unknown']);
  });
  it('never destroys a sandbox the log calls paused, even when its host still runs it (the snapshot would go)', () => {
    assert.deepEqual(findOrphans(['sb_paused'], rows, 5000, 'h1'), []);
  });
});

describe('findVanished', () => {
  const rows = [
    sb({ id: 'sb_gone', state: 'running', idleMs: 60_000 }),
    sb({ id: 'sb_here', state: 'running', idleMs: 60_000 }),
    sb({ id: 'sb_fresh', state: 'running', idleMs: 200 }),
    sb({ id: 'sb_snap', state: 'running', idleMs: 60_000 }),
    sb({ id: 'sb_paused', state: 'paused', idleMs: 60_000 }),
    sb({ id: 'sb_other', state: 'running', hostId: 'h2', idleMs: 60_000 }),
  ];
  const actions = findVanished({ sandboxIds: ['sb_here'], pausedIds: ['sb_snap', 'sb_paused'] }, rows, 5000, 'h1');
  it('fails a running sandbox its live host no longer has, with a reason', () => {
    const fail = actions.find((a) => a.sandboxId === 'sb_gone');
    assert.equal(fail?.kind, 'fail');
    assert.match(fail?.kind === 'fail' ? fail.reason : '', /no longer running on host h1/);
  });
  it('recognises a sandbox the host holds paused instead of failing it', () => {
    assert.deepEqual(actions.find((a) => a.sandboxId === 'sb_snap'), { kind: 'paused-on-host', sandboxId: 'sb_snap' });
  });
  it('leaves fresh rows (creates and resumes in flight), paused rows and other hosts alone', () => {
    assert.deepEqual(actions.map((a) => a.sandboxId).sort(), ['sb_gone', 'sb_snap']);
  });
  it('treats a host that lists no paused ids as holding none', () => {
    assert.deepEqual(findVanished({ sandboxIds: [] }, [sb({ id: 'sb_x', state: 'running', idleMs: 60_000 })], 5000, 'h1').map((a) => a.kind), ['fail']);
  });
});

describe('findLost', () => {
  const hosts = new Map([['h1', beat('b1', NOW - 7000)], ['h2', { ...beat('b2'), hostId: 'h2' }]]);
  const rows = [
    sb({ id: 'sb_run', state: 'running' }),
    sb({ id: 'sb_pausing', state: 'pausing' }),
    sb({ id: 'sb_paused', state: 'paused' }),
    sb({ id: 'sb_failed', state: 'failed' }),
    sb({ id: 'sb_live', state: 'running', hostId: 'h2' }),
    sb({ id: 'sb_nohost', state: 'running', hostId: 'h9' }),
    sb({ id: 'sb_pending', state: 'pending', hostId: null }),
  ];
  const lost = findLost(rows, hosts, NOW);
  it('loses the live work of a host whose heartbeat is older than its lease', () => {
    assert.deepEqual(lost.map((l) => l.sandboxId).sort(), ['sb_nohost', 'sb_pausing', 'sb_run']);
    assert.match(lost.find((l) => l.sandboxId === 'sb_run')!.reason, /stopped sending heartbeats 7 s ago/);
  });
  it('keeps paused sandboxes paused and leaves live hosts alone', () => {
    assert.ok(!lost.some((l) => ['sb_paused', 'sb_live', 'sb_failed'].includes(l.sandboxId)));
  });
  it('gives hosts a grace after the reaper itself started (a platform restarting as a whole)', () => {
    assert.deepEqual(findLost(rows, hosts, NOW, { sinceMs: NOW - 5000, startupGraceMs: 15_000 }), []);
    assert.equal(findLost(rows, hosts, NOW, { sinceMs: NOW - 16_000, startupGraceMs: 15_000 }).length, 3);
  });
  it('waits while the last beat is within the lease', () => {
    assert.deepEqual(findLost([sb({ state: 'running' })], new Map([['h1', beat('b1', NOW - 5999)]]), NOW), []);
  });
});

describe('decideTtl', () => {
  const running = (over: Partial<ProjectedSandbox>) => sb({ state: 'running', timeoutSec: 10, idleMs: 60_000, ...over });
  it('never pauses a sandbox without a timeout', () => {
    assert.equal(decideTtl(running({ timeoutSec: 0 }), undefined, NOW).kind, 'wait');
  });
  it('pauses once neither activity nor the last start is within the timeout', () => {
    assert.equal(decideTtl(running({}), NOW - 11_000, NOW).kind, 'pause');
    assert.equal(decideTtl(running({}), undefined, NOW).kind, 'pause');
  });
  it('waits while the sandbox was used within the timeout', () => {
    assert.equal(decideTtl(running({}), NOW - 9_000, NOW).kind, 'wait');
  });
  it('waits while an open exchange holds a lease ahead of now, even with a 1 s timeout', () => {
    assert.equal(decideTtl(running({ timeoutSec: 1 }), NOW + 2_500, NOW).kind, 'wait');
    assert.equal(decideTtl(running({ timeoutSec: 1 }), NOW - 1_000, NOW).kind, 'pause');
  });
  it('counts a recent start or resume as activity, whatever the older activity says', () => {
    assert.equal(decideTtl(running({ idleMs: 3_000 }), NOW - 600_000, NOW).kind, 'wait');
  });
  it('only pauses running sandboxes', () => {
    for (const state of ['paused', 'pausing', 'starting', 'deleted', 'failed']) {
      assert.equal(decideTtl(running({ state }), undefined, NOW).kind, 'wait', state);
    }
  });
});

describe('findAbandonedTemplates', () => {
  it('fails only templates stuck in creating past the create timeout', () => {
    const found = findAbandonedTemplates(
      [
        { id: 'tpl_old', state: 'creating', idleMs: 100_000 },
        { id: 'tpl_new', state: 'creating', idleMs: 1_000 },
        { id: 'tpl_ready', state: 'ready', idleMs: 1e9 },
      ],
      90_000,
    );
    assert.deepEqual(found, ['tpl_old']);
  });
});

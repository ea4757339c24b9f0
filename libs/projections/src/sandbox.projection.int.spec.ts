import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawEventMessage } from '@wrenn/eventlog';
import { applyBatch } from './runner/apply';
import { sandboxProjection } from './sandbox.projection';
import { usageProjection } from './usage.projection';
import { scriptedLog, ScriptedLog } from '@wrenn/projections-test-support';

/**
 * Set-wise application must be invisible: a run applied at once leaves exactly the rows (and
 * dead letters) that one event at a time leaves, including when a bad event sits in the middle.
 */
describe('sandbox and usage projections, one event at a time vs a whole run', () => {
  let log: ScriptedLog;
  let raws: RawEventMessage[] = [];
  before(async () => {
    log = await scriptedLog('setwise');
    const sb = (t: string, id: string, type: string, data: object = {}) => log.append(`2026-03-01T${t}Z`, 'sandbox', id, `sandbox.${type}`, data);
    const req = (t: string, id: string) => sb(t, id, 'requested', { sandboxId: id, teamId: 'team_a', template: 'base', vcpus: 2, memoryMb: 512, timeoutSec: 60 });
    await req('10:00:00.000', 'sb_a');
    await sb('10:00:01.000', 'sb_a', 'scheduled', { hostId: 'h1', bootId: 'b1' });
    await sb('10:00:02.000', 'sb_a', 'started', { hostId: 'h1', elapsedMs: 1 });
    await sb('10:00:03.000', 'sb_ghost', 'started', { hostId: 'h1', elapsedMs: 1 }); // never requested: parked
    await req('10:00:04.000', 'sb_c');
    await sb('10:00:05.000', 'sb_c', 'failed', { reason: 'no image', during: 'create' });
    await sb('10:00:06.000', 'sb_a', 'pause_requested', { reason: 'user' });
    await sb('10:00:07.000', 'sb_a', 'paused', { snapshotRef: 'snap_a', sizeBytes: 4096 });
    await sb('10:00:07.500', 'sb_a', 'timeout_changed', { timeoutSec: 600 }); // no billing meaning: usage skips it
    await sb('10:00:08.000', 'sb_a', 'resume_requested', { hostId: 'h2', bootId: 'b2' });
    await sb('10:00:09.000', 'sb_a', 'resumed', { hostId: 'h2' });
    await req('10:00:10.000', 'sb_a'); // a second create of one sandbox: parked
    await sb('10:00:11.000', 'sb_a', 'lost', { hostId: 'h2', reason: 'host gone' });
    await sb('10:00:12.000', 'sb_c', 'stop_requested');
    await req('10:00:13.000', 'sb_d');
    await sb('10:00:14.000', 'sb_d', 'timeout_changed', { timeoutSec: 0 });
    await sb('10:00:15.000', 'sb_c', 'network_changed', { network: { allowOut: ['10.0.0.0/8'], denyOut: [], allowInternetAccess: false } });
    raws = [];
    await log.store.readRaw({ fromSeq: 1 }, (raw) => void raws.push(raw));
  });
  after(() => log.close());

  const state = async () => ({
    sandboxes: await log.ds.query('SELECT * FROM sandboxes ORDER BY id'),
    sizing: await log.ds.query('SELECT * FROM usage_sandboxes ORDER BY sandbox_id'),
    intervals: await log.ds.query('SELECT * FROM usage_intervals ORDER BY sandbox_id, start_seq, kind'),
    dead: await log.ds.query('SELECT projection, stream_seq, reason FROM dead_letters ORDER BY projection, stream_seq'),
    checkpoints: await log.ds.query('SELECT projection, position FROM projection_checkpoints ORDER BY projection'),
  });
  const reset = () => log.ds.query('TRUNCATE sandboxes, usage_sandboxes, usage_intervals, dead_letters, projection_checkpoints');

  it('leaves identical rows and parks the same events', async () => {
    const projections = [sandboxProjection(log.env.naming), usageProjection(log.env.naming)];
    await reset();
    for (const raw of raws) {
      for (const p of projections) await log.ds.transaction((tx) => applyBatch(tx, p, log.env.naming, [raw]));
    }
    const oneByOne = await state();
    await reset();
    for (const p of projections) await log.ds.transaction((tx) => applyBatch(tx, p, log.env.naming, raws));
    const atOnce = await state();
    assert.deepEqual(atOnce, oneByOne);

    const a = oneByOne.sandboxes.find((r: { id: string }) => r.id === 'sb_a');
    assert.equal(a.state, 'lost');
    assert.equal(a.host_id, 'h2');
    assert.equal(a.boot_id, 'b2');
    // Resumed: the snapshot became the sandbox again and no longer stands on its own.
    assert.equal(a.snapshot_ref, null);
    assert.equal(a.snapshot_size_bytes, null);
    assert.equal(a.failure_reason, 'host gone');
    assert.equal(a.created_at.toISOString(), '2026-03-01T10:00:00.000Z');
    assert.equal(a.updated_at.toISOString(), '2026-03-01T10:00:11.000Z');
    assert.equal(a.timeout_sec, 600, 'the timeout changed while paused is kept');
    const c = oneByOne.sandboxes.find((r: { id: string }) => r.id === 'sb_c');
    assert.equal(c.state, 'deleting', 'a policy change never moves the state');
    assert.deepEqual(c.network, { allowOut: ['10.0.0.0/8'], denyOut: [], allowInternetAccess: false });
    assert.equal(a.network, null, 'the defaults are kept as null');
    // A new timeout changes the timeout and the row's last change, never the state.
    const d = oneByOne.sandboxes.find((r: { id: string }) => r.id === 'sb_d');
    assert.deepEqual([d.state, d.timeout_sec, d.updated_at.toISOString()], ['pending', 0, '2026-03-01T10:00:14.000Z']);
    // The ghost start and the second create, parked by both read models.
    assert.deepEqual(oneByOne.dead.map((d: { stream_seq: string }) => Number(d.stream_seq)), [4, 12, 4, 12]);
    // sb_a ran 10:00:02→10:00:07 and 10:00:09→10:00:11 (lost); its snapshot 10:00:07→10:00:09.
    assert.deepEqual(
      oneByOne.intervals.map((i: { sandbox_id: string; kind: string; start_ms: string; end_ms: string }) => [i.sandbox_id, i.kind, Number(i.end_ms) - Number(i.start_ms)]),
      [['sb_a', 'compute', 5000], ['sb_a', 'storage', 2000], ['sb_a', 'compute', 2000]],
    );
  });

  it('gives a warm claim (one event) the row and the usage the cold path\'s three events give, one at a time or as a run', async () => {
    const claimLog = await scriptedLog('claimed');
    try {
      const request = (id: string) => ({ sandboxId: id, teamId: 'team_a', template: 'base', vcpus: 2, memoryMb: 256, timeoutSec: 60, network: { allowOut: [], denyOut: ['10.0.0.0/8'], allowInternetAccess: true } });
      const sb = (t: string, id: string, type: string, data: object = {}) => claimLog.append(`2026-03-01T${t}Z`, 'sandbox', id, `sandbox.${type}`, data);
      await sb('10:00:00.000', 'sb_cold', 'requested', request('sb_cold'));
      await sb('10:00:00.000', 'sb_cold', 'scheduled', { hostId: 'h1', bootId: 'b1' });
      await sb('10:00:00.000', 'sb_cold', 'started', { hostId: 'h1', elapsedMs: 90 });
      await sb('10:00:00.000', 'sb_warm', 'claimed', { ...request('sb_warm'), hostId: 'h1', bootId: 'b1', elapsedMs: 3 });
      await sb('10:00:05.000', 'sb_warm', 'stop_requested');
      await sb('10:00:05.000', 'sb_cold', 'stop_requested');
      await sb('10:00:06.000', 'sb_warm', 'claimed', { ...request('sb_warm'), hostId: 'h1', bootId: 'b1', elapsedMs: 3 }); // a second beginning: parked
      const claimRaws: RawEventMessage[] = [];
      await claimLog.store.readRaw({ fromSeq: 1 }, (raw) => void claimRaws.push(raw));
      const projections = [sandboxProjection(claimLog.env.naming), usageProjection(claimLog.env.naming)];
      const rows = async () => ({
        sandboxes: await claimLog.ds.query('SELECT * FROM sandboxes ORDER BY id'),
        intervals: await claimLog.ds.query('SELECT * FROM usage_intervals ORDER BY sandbox_id, start_seq, kind'),
        dead: await claimLog.ds.query('SELECT projection, stream_seq FROM dead_letters ORDER BY projection, stream_seq'),
      });
      const clear = () => claimLog.ds.query('TRUNCATE sandboxes, usage_sandboxes, usage_intervals, dead_letters, projection_checkpoints');
      await clear();
      for (const raw of claimRaws) for (const p of projections) await claimLog.ds.transaction((tx) => applyBatch(tx, p, claimLog.env.naming, [raw]));
      const oneByOne = await rows();
      await clear();
      for (const p of projections) await claimLog.ds.transaction((tx) => applyBatch(tx, p, claimLog.env.naming, claimRaws));
      assert.deepEqual(await rows(), oneByOne, 'a replay rebuilds the same rows');

      // Everything but the id and the log position is the same for both sandboxes.
      const [cold, warm] = ['sb_cold', 'sb_warm'].map((id) => {
        const { id: _id, version: _version, ...rest } = oneByOne.sandboxes.find((r: { id: string }) => r.id === id);
        return rest;
      });
      assert.deepEqual(warm, cold);
      assert.deepEqual([warm.state, warm.host_id, warm.boot_id], ['deleting', 'h1', 'b1']);
      // Each ran (and is billed) 10:00:00 → 10:00:05.
      assert.deepEqual(
        oneByOne.intervals.map((i: { sandbox_id: string; kind: string; start_ms: string; end_ms: string; vcpus: number; memory_mb: number }) => [i.sandbox_id, i.kind, Number(i.end_ms) - Number(i.start_ms), i.vcpus, i.memory_mb]),
        [['sb_cold', 'compute', 5000, 2, 256], ['sb_warm', 'compute', 5000, 2, 256]],
      );
      assert.deepEqual(oneByOne.dead.map((d: { stream_seq: string }) => Number(d.stream_seq)), [7, 7], 'the second beginning is parked by both read models');
    } finally {
      await claimLog.close();
    }
  });
});

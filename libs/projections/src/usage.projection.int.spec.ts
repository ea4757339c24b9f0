import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JsMsg } from 'nats';
import { createLogger } from '@wrenn/logger';
import { ProjectionRunner } from './runner/projection-runner';
import { rebuildProjections } from './runner/rebuild';
import { allProjections } from './index';
import { TEMPLATE_PROJECTION } from './template.projection';
import { priceUsage, UsagePrices } from './usage.pricing';
import { usageProjection } from './usage.projection';
import { readUsageTotals } from './usage.read';
import { scriptedLog, ScriptedLog } from '@wrenn/projections-test-support';

const GiB = 1n << 30n;
const MiB = 1n << 20n;
const PRICES: UsagePrices = { vcpuHourMicroUsd: 50_000, memoryGibHourMicroUsd: 5_000, storageGibHourMicroUsd: 100_000 };
const ms = (iso: string) => Date.parse(`2026-03-01T${iso}Z`);
const at = (iso: string) => `2026-03-01T${iso}Z`;

/**
 * A scripted day of team_a (and one sandbox of team_b that must never show up in team_a's bill).
 *   A  2 vcpu 1024 MiB: runs 10:00:01→10:10:31 (paused; pause_requested does not stop the
 *      meter), 1 GiB snapshot 10:10:31→12:10:41, runs 12:10:41→12:40:41 (stop_requested).
 *   B  1 vcpu  512 MiB: runs from 11:00:02, never stops.
 *   C  4 vcpu 2048 MiB, team_b: runs 10:00→11:00.
 *   D  1 vcpu  256 MiB: runs 10:30→10:45, fails while pausing.
 *   E  1 vcpu  256 MiB: runs 10:00→10:20 (auto-paused), 512 MiB snapshot 10:20→11:00:05 (stopped).
 */
async function scriptDay(log: ScriptedLog): Promise<number> {
  const sb = (id: string, t: string, type: string, data: object = {}, teamId = 'team_a') =>
    log.append(at(t), 'sandbox', id, `sandbox.${type}`, data, { teamId });
  const req = (id: string, t: string, vcpus: number, memoryMb: number, teamId = 'team_a') =>
    sb(id, t, 'requested', { sandboxId: id, teamId, template: 'base', vcpus, memoryMb, timeoutSec: 0 }, teamId);
  await req('sb_a', '10:00:00.000', 2, 1024);
  await req('sb_c', '10:00:00.000', 4, 2048, 'team_b');
  await req('sb_e', '09:59:59.000', 1, 256);
  await sb('sb_a', '10:00:00.500', 'scheduled', { hostId: 'h1', bootId: 'b1' });
  await sb('sb_e', '10:00:00.000', 'started', { hostId: 'h1', elapsedMs: 1 });
  await sb('sb_c', '10:00:00.000', 'started', { hostId: 'h1', elapsedMs: 1 }, 'team_b');
  await sb('sb_a', '10:00:01.000', 'started', { hostId: 'h1', elapsedMs: 500 });
  await sb('sb_a', '10:10:01.000', 'pause_requested', { reason: 'user' });
  await sb('sb_e', '10:19:59.000', 'pause_requested', { reason: 'ttl' });
  await sb('sb_e', '10:20:00.000', 'auto_paused', { snapshotRef: 'snap_e', sizeBytes: Number(512n * MiB) });
  await sb('sb_a', '10:10:31.000', 'paused', { snapshotRef: 'snap_a', sizeBytes: Number(GiB) });
  await req('sb_d', '10:29:00.000', 1, 256);
  await sb('sb_d', '10:30:00.000', 'started', { hostId: 'h1', elapsedMs: 1 });
  await sb('sb_d', '10:44:00.000', 'pause_requested', { reason: 'user' });
  await sb('sb_d', '10:45:00.000', 'failed', { reason: 'snapshot failed', during: 'pause' });
  await req('sb_b', '11:00:00.000', 1, 512);
  await sb('sb_c', '11:00:00.000', 'stop_requested', {}, 'team_b');
  await sb('sb_e', '11:00:00.000', 'stop_requested');
  await sb('sb_b', '11:00:02.000', 'started', { hostId: 'h1', elapsedMs: 2 });
  await sb('sb_e', '11:00:05.000', 'stopped');
  await sb('sb_a', '12:10:31.000', 'resume_requested', { hostId: 'h1', bootId: 'b1' });
  await sb('sb_a', '12:10:41.000', 'resumed', { hostId: 'h1' });
  await sb('sb_a', '12:40:41.000', 'stop_requested');
  return sb('sb_a', '12:40:45.000', 'stopped');
}

async function dump(log: ScriptedLog): Promise<unknown> {
  return {
    sandboxes: await log.ds.query('SELECT * FROM sandboxes ORDER BY id'),
    audit: await log.ds.query('SELECT * FROM audit_log ORDER BY seq'),
    sizing: await log.ds.query('SELECT * FROM usage_sandboxes ORDER BY sandbox_id'),
    intervals: await log.ds.query('SELECT * FROM usage_intervals ORDER BY sandbox_id, start_seq, kind'),
  };
}

describe('usage projection', () => {
  let log: ScriptedLog;
  let last: number;
  before(async () => {
    log = await scriptedLog('usage');
    // The script has no template events, so the templates read model's checkpoint never moves:
    // run every read model that the script's events reach.
    await log.run(allProjections(log.env.naming).filter((p) => p.name !== TEMPLATE_PROJECTION));
    last = await scriptDay(log);
    await log.caughtUp(last);
  });
  after(() => log.close());

  const window = (from: string, to: string, openUntil = to) => ({ fromMs: ms(from), toMs: ms(to), openUntilMs: ms(openUntil) });

  it('totals a whole window as computed by hand', async () => {
    const totals = await readUsageTotals(log.ds, 'team_a', window('10:00:00.000', '13:00:00.000'));
    // Running milliseconds per sandbox.
    const a = 630_000n + 1_800_000n; // 10:00:01→10:10:31, 12:10:41→12:40:41
    const b = 7_198_000n; // 11:00:02→13:00 (open, counted to the window's end)
    const d = 900_000n; // 10:30→10:45
    const e = 1_200_000n; // 10:00→10:20
    assert.equal(totals.vcpuMs, a * 2n + b + d + e);
    assert.equal(totals.memoryMibMs, a * 1024n + b * 512n + d * 256n + e * 256n);
    // Snapshots: A 1 GiB 10:10:31→12:10:41, E 512 MiB 10:20→11:00:05.
    assert.equal(totals.storageByteMs, 7_210_000n * GiB + 2_405_000n * 512n * MiB);
    // 14,158,000 vcpu-ms = 3.9328 vcpu-h × $0.05 = 19.66¢; 6,554,000 GiB-ms of memory × $0.005/h
    // = 0.91¢; 8,412,500 GiB-ms of snapshots × $0.10/h = 23.37¢.
    assert.deepEqual(priceUsage(totals, PRICES), { computeCents: 20, memoryCents: 1, storageCents: 23, totalCents: 44 });
  });

  it('clips intervals to the window, and counts open ones only up to the given instant', async () => {
    const clipped = await readUsageTotals(log.ds, 'team_a', window('10:05:00.000', '12:20:00.000'));
    // A 10:05→10:10:31 + 12:10:41→12:20; B 11:00:02→12:20; D whole; E 10:05→10:20.
    assert.equal(clipped.vcpuMs, (331_000n + 559_000n) * 2n + 4_798_000n + 900_000n + 900_000n);
    assert.equal(clipped.storageByteMs, 7_210_000n * GiB + 2_405_000n * 512n * MiB);
    // "Now" is 12:00: B's open interval stops counting there even though the window goes on.
    const early = await readUsageTotals(log.ds, 'team_a', window('10:00:00.000', '13:00:00.000', '12:00:00.000'));
    assert.equal(early.vcpuMs, 2_430_000n * 2n + 3_598_000n + 900_000n + 1_200_000n);
    // A window before anything ran is empty; team_b sees only its own sandbox.
    assert.equal((await readUsageTotals(log.ds, 'team_a', window('08:00:00.000', '09:00:00.000'))).vcpuMs, 0n);
    assert.equal((await readUsageTotals(log.ds, 'team_b', window('00:00:00.000', '23:00:00.000'))).vcpuMs, 3_600_000n * 4n);
  });

  it('ignores redelivered events: the totals stay to the millisecond', async () => {
    const before = await readUsageTotals(log.ds, 'team_a', window('10:00:00.000', '13:00:00.000'));
    // A runner of the same projection gets the whole log delivered again (as after lost acks),
    // together with one new event.
    const quiet = createLogger('test');
    quiet.level = 'silent';
    const runner = new ProjectionRunner(log.env.nc, log.env.naming, log.ds, log.env.databaseUrl, { ...usageProjection(log.env.naming), name: 'usage' }, quiet);
    const jsm = await log.env.nc.jetstreamManager();
    const durable = `${runner.durableName}_redelivery`;
    await jsm.consumers.add(log.env.naming.stream, { durable_name: durable, ack_policy: 'explicit' as never, filter_subject: log.env.naming.aggregateWildcard('sandbox') });
    const extra = await log.append(at('13:30:00.000'), 'sandbox', 'sb_b', 'sandbox.stop_requested', {});
    await log.caughtUp(extra);
    const afterLive = await readUsageTotals(log.ds, 'team_a', window('10:00:00.000', '13:00:00.000'));
    assert.deepEqual(afterLive, before, 'B was open until 13:00 and stopped at 13:30, so the window did not change');
    const batch: JsMsg[] = [];
    const consumer = await log.env.nc.jetstream().consumers.get(log.env.naming.stream, durable);
    for await (const msg of await consumer.fetch({ max_messages: 1000, expires: 1000 })) {
      batch.push(msg);
      if (msg.seq >= extra) break;
    }
    assert.ok(batch.length >= 20);
    const outcome = await runner.process(batch);
    assert.equal(outcome?.applied, 0);
    assert.equal(outcome?.skipped, batch.length);
    const wide = await readUsageTotals(log.ds, 'team_a', window('10:00:00.000', '23:00:00.000'));
    assert.equal(wide.vcpuMs, 2_430_000n * 2n + 9_000_000n /* B 11:00:02→13:30 less 2 s */ - 2_000n + 900_000n + 1_200_000n);
    await jsm.consumers.delete(log.env.naming.stream, durable);
  });

  it('a replay rebuilds every read model row for row, and the bill to the cent', async () => {
    const live = await dump(log);
    const liveBill = priceUsage(await readUsageTotals(log.ds, 'team_a', window('10:00:00.000', '23:00:00.000')), PRICES);
    const result = await rebuildProjections(log.store, log.ds, allProjections(log.env.naming));
    assert.equal(result.results.find((r) => r.projection === 'usage')?.parked, 0);
    assert.deepEqual(await dump(log), live);
    assert.deepEqual(priceUsage(await readUsageTotals(log.ds, 'team_a', window('10:00:00.000', '23:00:00.000')), PRICES), liveBill);
    assert.ok(liveBill.totalCents > 0);
  });
});

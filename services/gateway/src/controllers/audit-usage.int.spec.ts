import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDataSource } from '@wrenn/db';
import { CheckpointWaiter } from '@wrenn/eventlog';
import { createLogger } from '@wrenn/logger';
import { AUDIT_PROJECTION, auditProjection, ProjectionRunner, USAGE_PROJECTION, usageProjection } from '@wrenn/projections';
import { DataSource } from 'typeorm';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';

const GiB = 2 ** 30;
const at = (hhmm: string) => `2026-03-01T${hhmm}:00.000Z`;

describe('GET /v1/audit and GET /v1/usage', () => {
  let h: GatewayHarness;
  let ds: DataSource;
  let waiter: CheckpointWaiter;
  const runners: ProjectionRunner[] = [];
  const seqs: number[] = [];

  before(async () => {
    h = await startGateway('auditusage');
    ds = createDataSource(h.env.databaseUrl);
    await ds.initialize();
    const log = createLogger('test');
    log.level = 'warn';
    // The consumers run where the scheduler hosts them; here, beside the gateway.
    for (const projection of [auditProjection(h.env.naming), usageProjection(h.env.naming)]) {
      const runner = new ProjectionRunner(h.env.nc, h.env.naming, ds, h.env.databaseUrl, projection, log, { fetchExpiresMs: 200 });
      await runner.start();
      runners.push(runner);
    }
    waiter = new CheckpointWaiter(h.env.databaseUrl);
    await waiter.start();

    // The key's team: one sandbox, 2 vcpus and 1 GiB, runs 10:00→11:00, paused with a 100 GiB
    // snapshot 11:00→14:00, runs again 14:00→14:30, then stops.
    const sb = async (t: string, type: string, data: object = {}) => seqs.push(await h.append(at(t), 'sandbox', 'sb_1', `sandbox.${type}`, data));
    await sb('09:59', 'requested', { sandboxId: 'sb_1', teamId: h.teamId, template: 'base', vcpus: 2, memoryMb: 1024, timeoutSec: 0 });
    await sb('10:00', 'started', { hostId: 'h1', elapsedMs: 1 });
    await sb('10:59', 'pause_requested', { reason: 'user' });
    await sb('11:00', 'paused', { snapshotRef: 'snap_1', sizeBytes: 100 * GiB });
    await sb('13:59', 'resume_requested', { hostId: 'h1', bootId: 'b1' });
    await sb('14:00', 'resumed', { hostId: 'h1' });
    await sb('14:30', 'stop_requested');
    await sb('14:31', 'stopped');
    // Another team's sandbox, and the platform's own event: neither is the team's business.
    await h.append(at('10:00'), 'sandbox', 'sb_other', 'sandbox.requested', { sandboxId: 'sb_other', teamId: 'team_other', template: 'base', vcpus: 8, memoryMb: 8192, timeoutSec: 0 }, { teamId: 'team_other' });
    const lastSandbox = await h.append(at('10:01'), 'sandbox', 'sb_other', 'sandbox.started', { hostId: 'h1', elapsedMs: 1 }, { teamId: 'team_other' });
    const last = await h.append(at('10:02'), 'host', 'h1', 'host.agent_started', { bootId: 'b1' }, { teamId: 'system', actor: { kind: 'system', id: 'host-agent' } });
    assert.ok(await waiter.waitFor(AUDIT_PROJECTION, last, 15_000), 'audit caught up');
    // The usage projection reads sandbox events only: its checkpoint stops at the last of them.
    assert.ok(await waiter.waitFor(USAGE_PROJECTION, lastSandbox, 15_000), 'usage caught up');
  });
  after(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    await waiter.stop();
    await ds.destroy();
    await h.close();
  });

  it('answers 401 without an API key', async () => {
    for (const path of ['/v1/audit', '/v1/usage']) {
      const res = await h.getJson(path, {}, false);
      assert.equal(res.status, 401, path);
      assert.equal(res.body.error.code, 'unauthorized');
    }
  });

  it("pages through the team's audit trail newest first, its signup included, without the platform's or other teams' events", async () => {
    const got: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await h.getJson(`/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      got.push(...res.body.entries.map((e: { seq: number }) => e.seq));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    // Signup and key creation came first: the team's own identity events end the trail.
    assert.deepEqual(got, [...h.identitySeqs, ...seqs].reverse());
    assert.ok(h.identitySeqs.length >= 3, 'team.created, team.member_added and api_key.created at least');
    assert.equal(pages, Math.ceil(got.length / 3));
    const first = (await h.getJson('/v1/audit?limit=1')).body.entries[0];
    assert.deepEqual(first, {
      seq: seqs[7], event_id: first.event_id, type: 'sandbox.stopped', version: 1, resource: { type: 'sandbox', id: 'sb_1' },
      actor: { kind: 'user', id: 'usr_1' }, team_id: h.teamId, correlation_id: 'corr_sb_1', causation_id: first.causation_id,
      occurred_at: at('14:31'),
    });
    assert.match(first.event_id, /^evt_/);
  });

  it('filters by resource and by time range', async () => {
    const bySandbox = await h.getJson('/v1/audit?resource_type=sandbox&resource_id=sb_1&from=2026-03-01T11:00:00Z&to=2026-03-01T14:30:00Z');
    assert.deepEqual(bySandbox.body.entries.map((e: { type: string }) => e.type), ['sandbox.resumed', 'sandbox.resume_requested', 'sandbox.paused']);
    // A date alone is UTC midnight, whatever the database's time zone.
    const day = await h.getJson('/v1/audit?from=2026-03-01&to=2026-03-02&limit=1000');
    assert.equal(day.body.entries.length, seqs.length);
    assert.equal((await h.getJson('/v1/audit?from=2026-03-02&to=2026-03-03')).body.entries.length, 0);
    // Only the signup happened after that day (it happens now).
    assert.deepEqual((await h.getJson('/v1/audit?from=2026-03-02')).body.entries.map((e: { seq: number }) => e.seq), [...h.identitySeqs].reverse());
    assert.equal((await h.getJson('/v1/audit?resource_type=host')).body.entries.length, 0);
    assert.equal((await h.getJson('/v1/audit?resource_id=sb_other')).body.entries.length, 0);
  });

  it('rejects bad audit queries with 400 validation_failed', async () => {
    for (const q of ['cursor=abc', 'limit=0', 'limit=5000', 'from=yesterday', 'from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'resource_type=Sandbox!', 'colour=blue']) {
      const res = await h.getJson(`/v1/audit?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.code, 'validation_failed', q);
    }
  });

  it("returns the team's usage and cost in a window", async () => {
    const res = await h.getJson('/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z');
    assert.equal(res.status, 200);
    // Running 1 h 30 min × 2 vcpus = 3 vcpu-h ($0.15); × 1 GiB = 1.5 GiB-h ($0.0075 → 1¢);
    // 100 GiB paused for 3 h = 300 GiB-h × $0.00015 = $0.045 → 5¢ (half up).
    assert.deepEqual(res.body, {
      team_id: h.teamId,
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-02T00:00:00.000Z',
      usage: {
        vcpu_ms: String(5_400_000 * 2),
        memory_mib_ms: String(5_400_000 * 1024),
        storage_byte_ms: (10_800_000n * 100n * (1n << 30n)).toString(),
        vcpu_hours: '3.000000',
        memory_gib_hours: '1.500000',
        storage_gib_hours: '300.000000',
      },
      prices: { currency: 'USD', vcpu_hour_micro_usd: 50_000, memory_gib_hour_micro_usd: 5_000, storage_gib_hour_micro_usd: 150 },
      cost: { currency: 'USD', compute_cents: 15, memory_cents: 1, storage_cents: 5, total_cents: 21 },
    });
    const clipped = await h.getJson('/v1/usage?from=2026-03-01T10:30:00Z&to=2026-03-01T12:00:00Z');
    assert.equal(clipped.body.usage.vcpu_hours, '1.000000'); // 10:30→11:00 × 2
    assert.equal(clipped.body.usage.storage_gib_hours, '100.000000'); // 11:00→12:00 × 100 GiB
  });

  it('rejects a window that ends before it starts', async () => {
    const res = await h.getJson('/v1/usage?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'validation_failed');
    assert.equal((await h.getJson('/v1/usage?to=soon')).status, 400);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregate, CommandMeta, ErrorCode, HostHeartbeat, HostOp, WrennError } from '@wrenn/contracts';
import { loadConfig, WrennConfig } from '@wrenn/config';
import { createDataSource, migrate } from '@wrenn/db';
import { fold, QuotaCommand, quotaDecider, QuotaEvent, QuotaEventType, quotaUsage } from '@wrenn/domain';
import { EventStore } from '@wrenn/eventlog';
import { createLogger } from '@wrenn/logger';
import { HostClient, serve } from '@wrenn/messaging';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { Subscription } from 'nats';
import { ulid } from 'ulid';
import { DataSource } from 'typeorm';
import { HostDirectory } from '../hosts/host-directory';
import { SandboxLifecycleService } from '../services/sandbox-lifecycle.service';
import { TemplateLookup } from '../templates/template-lookup';
import { QuotaService } from './quota.service';

const log = createLogger('test');
const HOST = 'h-quota';

/**
 * Team quotas on the real log: two scheduler instances (each with its own command handlers and
 * caches, as two replicas have) decide against one NATS slice; a test responder plays the host.
 */
describe('team quotas in the scheduler', () => {
  let env: TestEnv;
  let ds: DataSource;
  let store: EventStore;
  let config: WrennConfig;
  const hostsDirs: HostDirectory[] = [];
  let schedulers: SandboxLifecycleService[] = [];
  const subs: Subscription[] = [];

  const meta = (teamId: string): CommandMeta => ({ commandId: `cmd_${ulid().toLowerCase()}`, correlationId: 'c', actor: { kind: 'system', id: 'test' }, teamId });
  const create = (scheduler: SandboxLifecycleService, teamId: string, vcpus = 1) => {
    const sandboxId = `sb_${ulid().toLowerCase()}`;
    return scheduler.create({ meta: meta(teamId), sandboxId, template: 'base', vcpus, memoryMb: 128, timeoutSec: 0 }).then(() => sandboxId);
  };
  const quotaError = (limit: string, max: number, current: number) => (e: WrennError) => {
    assert.equal(e.code, ErrorCode.QuotaExceeded);
    assert.deepEqual({ limit: e.details?.limit, max: e.details?.max, current: e.details?.current }, { limit, max, current });
    return true;
  };
  const quotaEvents = async (teamId: string) => (await store.load(Aggregate.Quota, teamId)).events;

  before(async () => {
    env = await createTestEnv('quotas');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
    const kv = await env.nc.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    const beat: HostHeartbeat = {
      hostId: HOST, bootId: 'boot-1', runtime: 'namespace', capacity: { vcpus: 1000, memoryMb: 1_000_000, maxSandboxes: 1000 },
      used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at: Date.now(), leaseMs: 600_000, version: 'test', dataPlaneUrl: 'http://127.0.0.1:1',
    };
    await kv.put(HOST, JSON.stringify(beat));
    config = loadConfig({
      ...process.env,
      ...env.env,
      WRENN_QUOTA_RUNNING_SANDBOXES: '3',
      WRENN_QUOTA_PAUSED_SANDBOXES: '1',
      WRENN_QUOTA_OVERRIDES: JSON.stringify({ team_race: { runningSandboxes: 4 }, team_rate: { createsPerMinute: 2 }, team_cpu: { vcpus: 3 } }),
    });
    for (let i = 0; i < 2; i++) {
      const hosts = new HostDirectory(env.nc, env.naming, log);
      await hosts.onApplicationBootstrap();
      await eventually(() => hosts.get(HOST), 5000, 'the host in the directory');
      hostsDirs.push(hosts);
      // Each instance is a scheduler replica of its own: own event store client, handlers and caches.
      const own = await EventStore.create(env.nc, env.naming);
      schedulers.push(new SandboxLifecycleService(own, config, log, hosts, new HostClient(env.nc, env.naming), new TemplateLookup(ds), new QuotaService(own, config, log)));
    }
    const answers: Partial<Record<HostOp, (body: any) => unknown>> = {
      [HostOp.Create]: (body) => ({ sandboxId: body.spec.sandboxId, elapsedMs: 1 }),
      [HostOp.Pause]: (body) => ({ sandboxId: body.sandboxId, snapshotRef: `snap_${body.sandboxId}`, sizeBytes: 4096, elapsedMs: 1 }),
      [HostOp.Resume]: (body) => ({ sandboxId: body.spec.sandboxId, elapsedMs: 1 }),
      [HostOp.Destroy]: () => ({}),
    };
    for (const [op, answer] of Object.entries(answers)) subs.push(serve(env.nc, env.naming.hostSubject(HOST, op), async (body: any) => answer!(body)));
  });
  after(async () => {
    for (const sub of subs) sub.unsubscribe();
    for (const hosts of hostsDirs) hosts.onApplicationShutdown();
    await ds.destroy();
    await env.cleanup();
  });

  it('refuses the N+1th running sandbox of a team with the limit it hit, records the refusal, and leaves another team alone', async () => {
    const [a] = schedulers;
    const ids = [await create(a, 'team_a'), await create(a, 'team_a'), await create(a, 'team_a')];
    await assert.rejects(create(a, 'team_a'), quotaError('running_sandboxes', 3, 3));
    // Another team is not touched by team_a's use.
    await create(a, 'team_b');
    const denial = (await quotaEvents('team_a')).find((e) => e.type === QuotaEventType.Denied);
    assert.ok(denial, 'a quota.denied event on the team’s quota stream');
    assert.equal(denial.teamId, 'team_a');
    assert.deepEqual({ ...(denial.data as object), sandboxId: undefined, at: undefined }, { sandboxId: undefined, operation: 'create', limit: 'running_sandboxes', max: 3, current: 3, at: undefined });
    // The refused sandbox never reached the log.
    const refused = (denial.data as { sandboxId: string }).sandboxId;
    assert.equal((await store.load(Aggregate.Sandbox, refused)).events.length, 0);
    // A destroy gives the place back.
    await a.destroy({ meta: meta('team_a'), sandboxId: ids[0] });
    await a.settleDeletes();
    await create(a, 'team_a');
    assert.deepEqual((await a.quotaFigures('team_a')).usage.runningSandboxes, 3);
  });

  it('counts vCPUs and creates per minute, per team overrides included', async () => {
    const [a] = schedulers;
    await create(a, 'team_cpu', 2);
    await assert.rejects(create(a, 'team_cpu', 2), quotaError('vcpus', 3, 2));
    await create(a, 'team_rate');
    await create(a, 'team_rate');
    await assert.rejects(create(a, 'team_rate'), quotaError('creates_per_minute', 2, 2));
  });

  it('refuses a pause past the paused limit and a resume with no running place', async () => {
    const [a] = schedulers;
    const [one, two] = [await create(a, 'team_p'), await create(a, 'team_p')];
    await a.pause({ meta: meta('team_p'), sandboxId: one, reason: 'user' });
    await assert.rejects(a.pause({ meta: meta('team_p'), sandboxId: two, reason: 'user' }), quotaError('paused_sandboxes', 1, 1));
    const figures = await a.quotaFigures('team_p');
    assert.deepEqual([figures.usage.runningSandboxes, figures.usage.pausedSandboxes, figures.usage.snapshotBytes], [1, 1, 4096]);
    await create(a, 'team_p');
    await create(a, 'team_p');
    await assert.rejects(a.resume({ meta: meta('team_p'), sandboxId: one }), quotaError('running_sandboxes', 3, 3));
    await a.destroy({ meta: meta('team_p'), sandboxId: two });
    await a.settleDeletes();
    await a.resume({ meta: meta('team_p'), sandboxId: one });
    assert.deepEqual((await a.quotaFigures('team_p')).usage.pausedSandboxes, 0);
  });

  it('holds with two schedulers racing: exactly the limit is granted, the rest refused', async () => {
    const attempts = Array.from({ length: 12 }, (_, i) => create(schedulers[i % 2], 'team_race'));
    const outcomes = await Promise.allSettled(attempts);
    const granted = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o) => o.status === 'rejected');
    for (const r of refused) assert.equal(((r as PromiseRejectedResult).reason as WrennError).code, ErrorCode.QuotaExceeded, String((r as PromiseRejectedResult).reason));
    assert.equal(granted.length, 4, 'the team’s limit of 4, not one more');
    // The log agrees: four sandboxes of the team started.
    let started = 0;
    for (const o of granted) {
      const events = (await store.load(Aggregate.Sandbox, (o as PromiseFulfilledResult<string>).value)).events;
      if (events.some((e) => e.type === 'sandbox.started')) started++;
    }
    assert.equal(started, 4);
    for (const s of schedulers) assert.equal((await s.quotaFigures('team_race')).usage.runningSandboxes, 4, 'both replicas read the same usage');
  });

  it('replay reproduces every decision: the state folded from the log equals the live one, and each decision decides the same again', async () => {
    for (const teamId of ['team_a', 'team_race', 'team_p', 'team_rate', 'team_cpu']) {
      const events = await quotaEvents(teamId);
      assert.ok(events.length > 0);
      const asQuota = events.map((e) => ({ type: e.type, data: e.data }) as QuotaEvent);
      const now = Date.now();
      // The projection rebuilt from the log is the live one.
      assert.deepEqual(quotaUsage(fold(quotaDecider, asQuota), now), (await schedulers[1].quotaFigures(teamId)).usage, teamId);
      // Each reservation and refusal, decided again on the history before it, with the clock and
      // limits it recorded, is the same decision.
      for (let i = 0; i < asQuota.length; i++) {
        const event = asQuota[i];
        let command: QuotaCommand | null = null;
        if (event.type === QuotaEventType.Reserved) {
          const d = event.data;
          command = { type: d.operation === 'create' ? 'ReserveCreate' : 'ReserveResume', sandboxId: d.sandboxId, vcpus: d.vcpus, memoryMb: d.memoryMb, at: d.at, limits: d.limits };
        }
        if (!command) continue;
        assert.deepEqual(quotaDecider.decide(command, fold(quotaDecider, asQuota.slice(0, i))), [event], `${teamId} event ${i}`);
      }
      const denials = asQuota.filter((e) => e.type === QuotaEventType.Denied);
      for (const d of denials) {
        const i = asQuota.indexOf(d);
        const before = quotaUsage(fold(quotaDecider, asQuota.slice(0, i)), (d.data as { at: number }).at);
        const { limit, current } = d.data as { limit: string; current: number };
        const key = { running_sandboxes: 'runningSandboxes', vcpus: 'vcpus', paused_sandboxes: 'pausedSandboxes', creates_per_minute: 'createsPerMinute', memory_mb: 'memoryMb', snapshot_bytes: 'snapshotBytes' }[limit] as keyof typeof before;
        assert.equal(before[key], current, `${teamId}: the refusal's "current" is what the log held then`);
      }
    }
  });

  it('releases the holding of a sandbox that ended without its release (a crash in between) when the team reaches its limit', async () => {
    const [a] = schedulers;
    const ids = [await create(a, 'team_heal'), await create(a, 'team_heal'), await create(a, 'team_heal')];
    // The sandbox ends on the log, but its quota release is lost (as if the scheduler died).
    const stray = ids[0];
    const { version } = await store.load(Aggregate.Sandbox, stray);
    const m = { correlationId: 'c', causationId: 'crash', actor: { kind: 'system' as const, id: 'test' }, teamId: 'team_heal' };
    await store.append(Aggregate.Sandbox, stray, [{ type: 'sandbox.stop_requested', data: {} }, { type: 'sandbox.stopped', data: {} }], m, version);
    assert.equal((await a.quotaFigures('team_heal')).usage.runningSandboxes, 3);
    await create(a, 'team_heal');
    const types = (await quotaEvents('team_heal')).map((e) => e.type);
    assert.ok(!types.includes(QuotaEventType.Denied), 'no refusal: the stale holding was released first');
    assert.equal(types.filter((t) => t === QuotaEventType.Released).length, 1);
  });
});

import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Aggregate,
  CommandMeta,
  ErrorCode,
  HostHeartbeat,
  HostOp,
  PausedOnHost,
  ResumeOnHost,
  WrennError,
} from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createDataSource, migrate } from '@wrenn/db';
import { EventStore } from '@wrenn/eventlog';
import { createLogger } from '@wrenn/logger';
import { HostClient, serve } from '@wrenn/messaging';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { KV, Subscription } from 'nats';
import { ulid } from 'ulid';
import { DataSource } from 'typeorm';
import { HostDirectory } from '../hosts/host-directory';
import { TemplateLookup } from '../templates/template-lookup';
import { SandboxLifecycleService } from './sandbox-lifecycle.service';
import { QuotaService } from '../quotas/quota.service';

const log = createLogger('test');
const HOST = 'h-int';

/**
 * The scheduler's lifecycle on the real log (NATS JetStream) and read model (PostgreSQL). The
 * host agent is a test responder on the real host.<id>.<op> subjects, scripted per test, so the
 * scheduler's handling of every host answer can be seen in the events it appends.
 */
describe(SandboxLifecycleService.name, () => {
  let env: TestEnv;
  let ds: DataSource;
  let store: EventStore;
  let hosts: HostDirectory;
  let kv: KV;
  let service: SandboxLifecycleService;
  let subs: Subscription[] = [];
  const received: Array<{ op: string; body: any }> = [];
  let answer: Partial<Record<HostOp, (body: any) => Promise<unknown>>> = {};

  const beat = (at = Date.now()): HostHeartbeat => ({
    hostId: HOST, bootId: 'boot-1', runtime: 'namespace', capacity: { vcpus: 16, memoryMb: 8192, maxSandboxes: 10 },
    used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at, leaseMs: 60_000, version: 'test', dataPlaneUrl: 'http://127.0.0.1:1',
  });
  const meta = (): CommandMeta => ({ commandId: `cmd_${ulid().toLowerCase()}`, correlationId: 'c', actor: { kind: 'system', id: 'test' }, teamId: 'team_1' });
  const types = async (id: string) => (await store.load(Aggregate.Sandbox, id)).events.map((e) => e.type);

  before(async () => {
    env = await createTestEnv('lifecycle');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
    kv = await env.nc.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    await kv.put(HOST, JSON.stringify(beat()));
    hosts = new HostDirectory(env.nc, env.naming, log);
    await hosts.onApplicationBootstrap();
    await eventually(() => hosts.get(HOST), 5000, 'the host in the directory');
    const config = { ...loadConfig({ ...process.env, ...env.env }), hostCommandTimeoutMs: 2000, hostCreateTimeoutMs: 2000 };
    service = new SandboxLifecycleService(store, config, log, hosts, new HostClient(env.nc, env.naming), new TemplateLookup(ds), new QuotaService(store, config, log));
    for (const op of Object.values(HostOp)) {
      subs.push(
        serve(env.nc, env.naming.hostSubject(HOST, op), async (body: any) => {
          received.push({ op, body });
          const handler = answer[op];
          if (!handler) throw new WrennError(ErrorCode.Internal, `no answer scripted for ${op}`);
          return handler(body);
        }),
      );
    }
  });
  after(async () => {
    for (const sub of subs) sub.unsubscribe();
    hosts.onApplicationShutdown();
    await ds.destroy();
    await env.cleanup();
  });
  beforeEach(async () => {
    received.length = 0;
    answer = {
      [HostOp.Create]: async (body) => ({ sandboxId: body.spec.sandboxId, elapsedMs: 5 }),
      [HostOp.Pause]: async (body): Promise<PausedOnHost> => ({ sandboxId: body.sandboxId, snapshotRef: `snap_${body.sandboxId}`, sizeBytes: 4096, elapsedMs: 7 }),
      [HostOp.Resume]: async (body: ResumeOnHost) => ({ sandboxId: body.spec.sandboxId, elapsedMs: 9 }),
      [HostOp.Destroy]: async () => ({}),
    };
    await kv.put(HOST, JSON.stringify(beat()));
    await eventually(() => hosts.get(HOST)!.at > Date.now() - 2000, 5000, 'a fresh beat');
  });

  async function running(over: { template?: string; vcpus?: number; memoryMb?: number } = {}): Promise<string> {
    const sandboxId = `sb_${ulid().toLowerCase()}`;
    await service.create({ meta: meta(), sandboxId, template: over.template ?? 'base', vcpus: over.vcpus ?? 1, memoryMb: over.memoryMb ?? 256, timeoutSec: 0 });
    return sandboxId;
  }

  it('pauses on the sandbox’s host and records the snapshot with its size', async () => {
    const id = await running();
    await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
    const { events } = await store.load(Aggregate.Sandbox, id);
    assert.deepEqual(events.slice(-2).map((e) => e.type), ['sandbox.pause_requested', 'sandbox.paused']);
    assert.deepEqual(events.at(-1)!.data, { snapshotRef: `snap_${id}`, sizeBytes: 4096 });
    assert.equal(received.find((r) => r.op === HostOp.Pause)?.body.sandboxId, id);
  });

  it('tells a TTL pause apart as auto_paused', async () => {
    const id = await running();
    await service.pause({ meta: meta(), sandboxId: id, reason: 'ttl' });
    assert.equal((await types(id)).at(-1), 'sandbox.auto_paused');
  });

  it('keeps a sandbox running when its pause fails, and passes on the host’s code', async () => {
    const id = await running();
    answer[HostOp.Pause] = async () => {
      throw new WrennError(ErrorCode.SandboxNotFound, 'gone');
    };
    await assert.rejects(service.pause({ meta: meta(), sandboxId: id, reason: 'ttl' }), (e: WrennError) => e.details?.host_code === ErrorCode.SandboxNotFound);
    assert.deepEqual((await types(id)).slice(-2), ['sandbox.pause_requested', 'sandbox.pause_failed']);
    // And it can be paused again.
    answer[HostOp.Pause] = async (body) => ({ sandboxId: body.sandboxId, snapshotRef: `snap_${body.sandboxId}`, sizeBytes: 1, elapsedMs: 1 });
    await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
    assert.equal((await types(id)).at(-1), 'sandbox.paused');
  });

  it('resumes on the host holding the snapshot with the sandbox’s spec; a failed resume stays paused and can be retried', async () => {
    const id = await running({ memoryMb: 300 });
    await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
    answer[HostOp.Resume] = async () => {
      throw new Error('disk gone');
    };
    await assert.rejects(service.resume({ meta: meta(), sandboxId: id }), (e: WrennError) => e.code === ErrorCode.HostOperationFailed);
    assert.deepEqual((await types(id)).slice(-2), ['sandbox.resume_requested', 'sandbox.resume_failed']);
    answer[HostOp.Resume] = async (body: ResumeOnHost) => ({ sandboxId: body.spec.sandboxId, elapsedMs: 3 });
    await service.resume({ meta: meta(), sandboxId: id });
    assert.equal((await types(id)).at(-1), 'sandbox.resumed');
    const sent = received.filter((r) => r.op === HostOp.Resume).at(-1)!.body as ResumeOnHost;
    assert.equal(sent.snapshotRef, `snap_${id}`);
    assert.equal(sent.spec.memoryMb, 300);
  });

  it('answers 503 for a resume while the snapshot’s host is not live, appending nothing', async () => {
    const id = await running();
    await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
    const before = await types(id);
    await kv.put(HOST, JSON.stringify(beat(Date.now() - 120_000)));
    await eventually(() => hosts.get(HOST)!.at < Date.now() - 60_000, 5000, 'the stale beat');
    await assert.rejects(service.resume({ meta: meta(), sandboxId: id }), (e: WrennError) => e.code === ErrorCode.HostUnavailable);
    assert.deepEqual(await types(id), before);
    assert.equal(received.filter((r) => r.op === HostOp.Resume).length, 0);
  });

  it('destroys a paused sandbox whose host is down without waiting on it: stopped, its snapshot left to the reconciler when the host returns', async () => {
    const id = await running();
    await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
    await kv.put(HOST, JSON.stringify(beat(Date.now() - 120_000)));
    await eventually(() => hosts.get(HOST)!.at < Date.now() - 60_000, 5000, 'the stale beat');
    // A host that is down answers nothing.
    answer[HostOp.Destroy] = () => new Promise((_, fail) => setTimeout(() => fail(new Error('down')), 3000));
    const sent = received.filter((r) => r.op === HostOp.Destroy).length;
    await service.destroy({ meta: meta(), sandboxId: id });
    assert.equal((await types(id)).at(-1), 'sandbox.stopped');
    assert.equal(received.filter((r) => r.op === HostOp.Destroy).length, sent, 'the down host is not asked');
  });

  it('a destroy that lands while the create fails on the host still ends the sandbox stopped', async () => {
    const sandboxId = `sb_${ulid().toLowerCase()}`;
    let failCreate!: () => void;
    const createFails = new Promise<void>((r) => (failCreate = r));
    let createFailed!: () => void;
    const createSettled = new Promise<void>((r) => (createFailed = r));
    answer[HostOp.Create] = async () => {
      await createFails;
      throw new WrennError(ErrorCode.HostOperationFailed, 'no room');
    };
    // The host serialises a sandbox's operations: the destroy answers after the create's failure.
    answer[HostOp.Destroy] = async () => {
      await createSettled;
      return {};
    };
    const create = service.create({ meta: meta(), sandboxId, template: 'base', vcpus: 1, memoryMb: 256, timeoutSec: 0 });
    await eventually(() => received.some((r) => r.op === HostOp.Create && r.body.spec.sandboxId === sandboxId), 5000, 'the create on the host');
    const destroy = service.destroy({ meta: meta(), sandboxId });
    await eventually(() => received.some((r) => r.op === HostOp.Destroy && r.body.sandboxId === sandboxId), 5000, 'the destroy on the host');
    failCreate();
    await assert.rejects(create);
    createFailed();
    await destroy;
    await service.settleDeletes();
    const events = await types(sandboxId);
    assert.equal(events.at(-1), 'sandbox.stopped');
    assert.ok(!events.includes('sandbox.failed'), 'the destroy owns the outcome');
  });

  it('a re-driven pause that finds the pause settled and the sandbox resumed does not pause it again', async () => {
    const id = await running();
    await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
    await service.resume({ meta: meta(), sandboxId: id });
    const before = await types(id);
    // A reaper that saw it pausing a moment ago re-drives that pause.
    await assert.rejects(service.pause({ meta: meta(), sandboxId: id, reason: 'ttl', redrive: true }), (e: WrennError) => e.code === ErrorCode.InvalidState);
    assert.deepEqual(await types(id), before, 'nothing appended: it runs on');
  });

  it('refuses the reaper\'s fail of a create it saw starting once that create has finished', async () => {
    // The reaper judged it starting on an agent that restarted; the new agent finished the create.
    const id = await running();
    await assert.rejects(service.fail(id, 'host agent h-int restarted while creating it', meta(), 'starting'), (e: WrennError) => e.code === ErrorCode.InvalidState);
    assert.equal((await types(id)).at(-1), 'sandbox.started', 'it runs on');
  });

  it('refuses pause and resume in the wrong state and for another team', async () => {
    const id = await running();
    await assert.rejects(service.resume({ meta: meta(), sandboxId: id }), (e: WrennError) => e.code === ErrorCode.InvalidState);
    await assert.rejects(service.pause({ meta: { ...meta(), teamId: 'team_2' }, sandboxId: id, reason: 'user' }), (e: WrennError) => e.code === ErrorCode.SandboxNotFound);
    assert.equal((await types(id)).at(-1), 'sandbox.started');
  });

  it('sizes a built-in image 1 vCPU and 512 MB when the create names no size', async () => {
    const sandboxId = `sb_${ulid().toLowerCase()}`;
    await service.create({ meta: meta(), sandboxId, template: 'base', timeoutSec: 0 });
    const spec = received.find((r) => r.op === HostOp.Create && r.body.spec.sandboxId === sandboxId)!.body.spec;
    assert.deepEqual([spec.vcpus, spec.memoryMb, spec.templateId], [1, 512, undefined]);
    const { state } = await store.load(Aggregate.Sandbox, sandboxId).then(({ events }) => ({ state: events[0].data as { vcpus: number; memoryMb: number } }));
    assert.deepEqual([state.vcpus, state.memoryMb], [1, 512]);
  });

  it('starts a sandbox from a template on the template’s host, with its id in the spec, and refuses another size', async () => {
    const templateId = `tpl_${ulid().toLowerCase()}`;
    await ds.query(
      `INSERT INTO templates (id, team_id, name, state, source_sandbox_id, host_id, vcpus, memory_mb, size_bytes, version, created_at, updated_at)
       VALUES ($1, 'team_1', 'int-tpl', 'ready', 'sb_x', $2, 2, 384, 10, 1, now(), now())`,
      [templateId, HOST],
    );
    const id = await running({ template: 'int-tpl', vcpus: 2, memoryMb: 384 });
    const create = received.find((r) => r.op === HostOp.Create)!.body;
    assert.equal(create.spec.templateId, templateId);
    const { events } = await store.load(Aggregate.Sandbox, id);
    assert.equal((events[0].data as { templateId?: string }).templateId, templateId);

    // Omitted, the size is the template's.
    const sized = `sb_${ulid().toLowerCase()}`;
    await service.create({ meta: meta(), sandboxId: sized, template: 'int-tpl', timeoutSec: 0 });
    const sizedSpec = received.find((r) => r.op === HostOp.Create && r.body.spec.sandboxId === sized)!.body.spec;
    assert.deepEqual([sizedSpec.vcpus, sizedSpec.memoryMb, sizedSpec.templateId], [2, 384, templateId]);

    const other = `sb_${ulid().toLowerCase()}`;
    await assert.rejects(
      service.create({ meta: meta(), sandboxId: other, template: 'int-tpl', vcpus: 1, memoryMb: 384, timeoutSec: 0 }),
      (e: WrennError) =>
        e.code === ErrorCode.ValidationFailed &&
        e.message === 'template "int-tpl" is locked to 2 vcpus' &&
        JSON.stringify(e.details) === JSON.stringify({ fields: [{ field: 'vcpus', problems: ['template "int-tpl" is locked to 2 vcpus'] }] }),
    );
    assert.equal(await store.version(Aggregate.Sandbox, other), 0, 'nothing appended');
    await assert.rejects(
      service.create({ meta: { ...meta(), teamId: 'team_2' }, sandboxId: other, template: 'int-tpl', vcpus: 2, memoryMb: 384, timeoutSec: 0 }),
      (e: WrennError) => e.code === ErrorCode.TemplateNotFound,
    );
  });

  it('finishes a pause and a resume left mid-way when re-driven, and refuses a second user pause meanwhile', async () => {
    const id = await running();
    const seed = { correlationId: 'c', causationId: `crash:${id}`, actor: { kind: 'system' as const, id: 'test' }, teamId: 'team_1' };
    // A scheduler died right after deciding the pause.
    await store.append(Aggregate.Sandbox, id, [{ type: 'sandbox.pause_requested', data: { reason: 'ttl' } }], seed, await store.version(Aggregate.Sandbox, id));
    await assert.rejects(service.pause({ meta: meta(), sandboxId: id, reason: 'user' }), (e: WrennError) => e.code === ErrorCode.InvalidState);
    await service.pause({ meta: meta(), sandboxId: id, reason: 'ttl', redrive: true });
    assert.deepEqual((await types(id)).slice(-2), ['sandbox.pause_requested', 'sandbox.auto_paused']);

    await store.append(Aggregate.Sandbox, id, [{ type: 'sandbox.resume_requested', data: { hostId: HOST, bootId: 'boot-0' } }], { ...seed, causationId: `crash2:${id}` }, await store.version(Aggregate.Sandbox, id));
    await service.resume({ meta: meta(), sandboxId: id, redrive: true });
    assert.deepEqual((await types(id)).slice(-2), ['sandbox.resume_requested', 'sandbox.resumed']);
  });

  it('changes the timeout of a running and of a paused sandbox without host work, and only for its team', async () => {
    const id = await running();
    const sentBefore = received.length;
    const changed = await service.setTimeout({ meta: meta(), sandboxId: id, timeoutSec: 90 });
    const { events } = await store.load(Aggregate.Sandbox, id);
    assert.equal(events.at(-1)!.type, 'sandbox.timeout_changed');
    assert.deepEqual(events.at(-1)!.data, { timeoutSec: 90 });
    assert.equal(changed.seq, events.at(-1)!.seq, 'the reply names the event, for read-your-writes');
    assert.equal(received.length, sentBefore, 'no host is asked anything');

    // The same timeout again records nothing and answers the current version.
    const again = await service.setTimeout({ meta: meta(), sandboxId: id, timeoutSec: 90 });
    assert.equal(again.seq, changed.seq);

    await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
    await service.setTimeout({ meta: meta(), sandboxId: id, timeoutSec: 0 });
    assert.equal((await types(id)).at(-1), 'sandbox.timeout_changed');

    const before = await types(id);
    await assert.rejects(service.setTimeout({ meta: { ...meta(), teamId: 'team_2' }, sandboxId: id, timeoutSec: 5 }), (e: WrennError) => e.code === ErrorCode.SandboxNotFound);
    await service.destroy({ meta: meta(), sandboxId: id });
    await service.settleDeletes();
    await assert.rejects(service.setTimeout({ meta: meta(), sandboxId: id, timeoutSec: 5 }), (e: WrennError) => e.code === ErrorCode.InvalidState);
    assert.deepEqual((await types(id)).slice(0, before.length), before);
    assert.equal((await types(id)).at(-1), 'sandbox.stopped', 'refused changes append nothing');
  });

  it('refuses the reaper\'s fail of a sandbox whose pause or destroy is under way, so that work finishes as asked', async () => {
    // The reaper judges a sandbox vanished from a read of a moment ago: by the time its fail
    // lands, a pause may have the host mid-snapshot (listed neither running nor paused).
    for (const op of [HostOp.Pause, HostOp.Destroy] as const) {
      const id = await running();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const normal = answer[op]!;
      answer[op] = async (body) => {
        await held;
        return normal(body);
      };
      const work = op === HostOp.Pause ? service.pause({ meta: meta(), sandboxId: id, reason: 'user' }) : service.destroy({ meta: meta(), sandboxId: id });
      await eventually(() => received.some((r) => r.op === op && r.body.sandboxId === id), 5000, `the host asked to ${op}`);
      await assert.rejects(service.fail(id, 'no longer running on host h-int', meta()), (e: WrennError) => e.code === ErrorCode.InvalidState);
      release();
      await work;
      await service.settleDeletes();
      const last = (await types(id)).at(-1);
      assert.equal(last, op === HostOp.Pause ? 'sandbox.paused' : 'sandbox.stopped');
      assert.ok(!(await types(id)).includes('sandbox.failed'), `the ${op} is not turned into a failure`);
    }
    // A sandbox the reaper may fail still is.
    const id = await running();
    await service.fail(id, 'no longer running on host h-int', meta());
    assert.equal((await types(id)).at(-1), 'sandbox.failed');
  });

  it('answers a delete once the sandbox is deleting; the host finishes it in the background and it ends deleted', async () => {
    const id = await running();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const normal = answer[HostOp.Destroy]!;
    answer[HostOp.Destroy] = async (body) => {
      await held;
      return normal(body);
    };
    try {
      const accepted = await service.destroy({ meta: meta(), sandboxId: id });
      assert.equal((await types(id)).at(-1), 'sandbox.stop_requested', 'answered before the host finished');
      assert.equal(accepted.seq, (await store.load(Aggregate.Sandbox, id)).events.at(-1)!.seq);
      await eventually(() => received.some((r) => r.op === HostOp.Destroy && r.body.sandboxId === id), 5000, 'the destroy on the host');
      // The same delete again: answered, nothing new on the log, no second destroy on the host.
      const again = await service.destroy({ meta: meta(), sandboxId: id });
      assert.equal(again.seq, accepted.seq);
      assert.equal(received.filter((r) => r.op === HostOp.Destroy && r.body.sandboxId === id).length, 1);
      release();
      await service.settleDeletes();
      const events = await types(id);
      assert.equal(events.at(-1), 'sandbox.stopped');
      assert.equal(events.filter((t) => t === 'sandbox.stop_requested').length, 1);
    } finally {
      answer[HostOp.Destroy] = normal;
    }
  });

  it('asks again a host agent that did not take the destroy (restarting), and the sandbox still ends deleted', async () => {
    const id = await running();
    const normal = answer[HostOp.Destroy]!;
    let refusals = 2;
    answer[HostOp.Destroy] = async (body) => {
      if (refusals-- > 0) throw new WrennError(ErrorCode.HostUnavailable, 'agent restarting');
      return normal(body);
    };
    try {
      await service.destroy({ meta: meta(), sandboxId: id });
      await service.settleDeletes();
      assert.equal(received.filter((r) => r.op === HostOp.Destroy && r.body.sandboxId === id).length, 3);
      const events = await types(id);
      assert.equal(events.at(-1), 'sandbox.stopped');
      assert.ok(!events.includes('sandbox.failed'));
    } finally {
      answer[HostOp.Destroy] = normal;
    }
  });

  it('marks a sandbox lost with its host and reason', async () => {
    const id = await running();
    await service.markLost({ meta: meta(), sandboxId: id, hostId: HOST, reason: 'heartbeat expired' });
    const { events } = await store.load(Aggregate.Sandbox, id);
    assert.equal(events.at(-1)!.type, 'sandbox.lost');
    assert.deepEqual(events.at(-1)!.data, { hostId: HOST, reason: 'heartbeat expired' });
  });

  describe('a create served from a warm pool', () => {
    const warmBeat = (ready: number) => ({ ...beat(), warm: { 'image:base': ready } });
    const withWarm = async (ready: number) => {
      const fresh = warmBeat(ready);
      await kv.put(HOST, JSON.stringify(fresh));
      await eventually(() => hosts.get(HOST)!.at === fresh.at, 5000, 'the beat with the warm pool');
    };
    const claimAnswer = async (body: { spec: { sandboxId: string } }) => ({ claimed: true, sandboxId: body.spec.sandboxId, elapsedMs: 2, warmLeft: 1 });
    const quotaEvents = async () => (await store.load(Aggregate.Quota, 'team_1')).events;
    const newId = () => `sb_${ulid().toLowerCase()}`;
    const create = (sandboxId: string, m = meta(), over: { diskMb?: number } = {}) => service.create({ meta: m, sandboxId, template: 'base', vcpus: 1, memoryMb: 256, timeoutSec: 0, ...over });

    it('is one host command and one event, leaving the sandbox running on the claiming host', async () => {
      await withWarm(2);
      answer[HostOp.Claim] = claimAnswer;
      const id = newId();
      const accepted = await create(id);
      assert.deepEqual(received.map((r) => r.op), [HostOp.Claim]);
      assert.deepEqual(received[0].body.spec, { sandboxId: id, teamId: 'team_1', template: 'base', vcpus: 1, memoryMb: 256 });
      const { events } = await store.load(Aggregate.Sandbox, id);
      assert.deepEqual(events.map((e) => e.type), ['sandbox.claimed']);
      assert.equal(accepted.seq, events[0].seq);
      assert.deepEqual(events[0].data, { sandboxId: id, teamId: 'team_1', template: 'base', vcpus: 1, memoryMb: 256, timeoutSec: 0, hostId: HOST, bootId: 'boot-1', elapsedMs: 2 });
      // It is a running sandbox like any: it pauses and deletes as one.
      await service.pause({ meta: meta(), sandboxId: id, reason: 'user' });
      assert.equal((await types(id)).at(-1), 'sandbox.paused');
    });

    it('answers a retried create with the event it recorded and claims nothing twice', async () => {
      await withWarm(2);
      answer[HostOp.Claim] = claimAnswer;
      const id = newId();
      const m = meta();
      const first = await create(id, m);
      const again = await create(id, m);
      assert.equal(again.seq, first.seq);
      assert.equal(received.filter((r) => r.op === HostOp.Claim).length, 1);
      assert.deepEqual(await types(id), ['sandbox.claimed']);
    });

    it('falls back to the cold path when the host refuses (its pool was empty), and aims no claim there again until a beat says so', async () => {
      await withWarm(2);
      answer[HostOp.Claim] = async () => ({ claimed: false, reason: 'no warm sandbox of this template is ready' });
      const id = newId();
      await create(id);
      assert.deepEqual(received.map((r) => r.op), [HostOp.Claim, HostOp.Create]);
      assert.deepEqual(await types(id), ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started']);
      received.length = 0;
      await create(newId());
      assert.deepEqual(received.map((r) => r.op), [HostOp.Create], 'the refusal is remembered');
    });

    it('counts the claims it sent against the beat: no more claims than warm sandboxes reported', async () => {
      await withWarm(1);
      answer[HostOp.Claim] = async (body) => ({ claimed: true, sandboxId: body.spec.sandboxId, elapsedMs: 2 });
      await create(newId());
      await create(newId());
      assert.deepEqual(received.map((r) => r.op), [HostOp.Claim, HostOp.Create]);
    });

    it('starts cold a create that asks for another disk size than the pool has', async () => {
      await withWarm(2);
      answer[HostOp.Claim] = claimAnswer;
      await create(newId(), meta(), { diskMb: 1024 });
      assert.deepEqual(received.map((r) => r.op), [HostOp.Create]);
    });

    it('leaves nothing on the log when the claim fails, tells the host to destroy what it may hold, and gives the reservation back', async () => {
      await withWarm(2);
      answer[HostOp.Claim] = async () => {
        throw new Error('cgroup rename failed');
      };
      const id = newId();
      await assert.rejects(create(id), (e: WrennError) => e.code === ErrorCode.HostOperationFailed && e.details?.sandbox_id === id);
      assert.equal((await store.load(Aggregate.Sandbox, id)).events.length, 0);
      assert.deepEqual(received.map((r) => [r.op, r.body.sandboxId ?? r.body.spec?.sandboxId]), [[HostOp.Claim, id], [HostOp.Destroy, id]]);
      const released = (await quotaEvents()).filter((e) => (e.data as { sandboxId?: string }).sandboxId === id).map((e) => e.type);
      assert.deepEqual(released, ['quota.reserved', 'quota.released']);
    });

    it('destroys the claimed sandbox and gives the reservation back when its event cannot be recorded', async () => {
      await withWarm(2);
      const id = newId();
      // Another writer begins the same sandbox while the host claims: the append is refused.
      answer[HostOp.Claim] = async (body) => {
        await store.append(Aggregate.Sandbox, id, [{ type: 'sandbox.requested', data: { sandboxId: id, teamId: 'team_1', template: 'base', vcpus: 1, memoryMb: 256, timeoutSec: 0 } }], { correlationId: 'x', causationId: 'x', actor: { kind: 'system', id: 'test' }, teamId: 'team_1' }, 0);
        return claimAnswer(body);
      };
      await assert.rejects(create(id), (e: WrennError) => e.code === ErrorCode.SandboxExists);
      assert.deepEqual(await types(id), ['sandbox.requested'], 'no claim recorded');
      assert.ok(received.some((r) => r.op === HostOp.Destroy && r.body.sandboxId === id), 'the host told to destroy it');
      const released = (await quotaEvents()).filter((e) => (e.data as { sandboxId?: string }).sandboxId === id).map((e) => e.type);
      assert.deepEqual(released, ['quota.reserved', 'quota.released']);
    });
  });
});

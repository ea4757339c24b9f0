import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregate, CommandMeta, ErrorCode, HostHeartbeat, HostOp, WrennError } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createDataSource, migrate } from '@wrenn/db';
import { EventStore } from '@wrenn/eventlog';
import { createLogger } from '@wrenn/logger';
import { HostClient, serve } from '@wrenn/messaging';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { KV, Subscription } from 'nats';
import { ulid } from 'ulid';
import { DataSource } from 'typeorm';
import { HostDirectory } from './host-directory';
import { TemplateLookup } from '../templates/template-lookup';
import { SandboxLifecycleService } from '../services/sandbox-lifecycle.service';
import { QuotaService } from '../quotas/quota.service';

const log = createLogger('test');
const A = 'h-place-a';
const B = 'h-place-b';

/**
 * Placement by memory across two hosts, on the real log (NATS JetStream), hosts bucket (NATS KV)
 * and read model (PostgreSQL). The hosts' heartbeats are written to the bucket as agents write
 * them; each host agent is a test responder on its real host.<id>.<op> subjects, scripted per test
 * (it may refuse a create with host_full, as an agent whose fresh figures find it full does).
 */
describe('placement by memory (two hosts)', () => {
  let env: TestEnv;
  let ds: DataSource;
  let store: EventStore;
  let hosts: HostDirectory;
  let kv: KV;
  let service: SandboxLifecycleService;
  const subs: Subscription[] = [];
  const creates: Array<{ hostId: string; sandboxId: string }> = [];
  let destroys: string[] = [];
  let onCreate: Record<string, (sandboxId: string) => Promise<unknown>> = {};

  /** A live beat of a host with real memory left for `room` more sandboxes at 16 MiB each. */
  const beat = (hostId: string, room: number): HostHeartbeat => ({
    hostId, bootId: `boot-${hostId}`, runtime: 'namespace', capacity: { vcpus: 32, memoryMb: 24_576, maxSandboxes: 4096 },
    used: { sandboxes: 0, vcpus: 0, memoryMb: 0 },
    memory: { totalMb: 24_576, usedMb: 24_576 - 1024 - room * 16, reserveMb: 1024, overcommit: 32, perSandboxMb: 16 },
    at: Date.now(), leaseMs: 60_000, version: 'test', dataPlaneUrl: 'http://127.0.0.1:1',
  });
  const announce = async (hostId: string, room: number) => {
    const b = beat(hostId, room);
    await kv.put(hostId, JSON.stringify(b));
    await eventually(() => hosts.get(hostId)?.at === b.at, 5000, `the beat of ${hostId}`);
  };
  // A team per test: the team quota (creates per minute) is not what these tests are about.
  let team = '';
  const meta = (): CommandMeta => ({ commandId: `cmd_${ulid().toLowerCase()}`, correlationId: 'c', actor: { kind: 'system', id: 'test' }, teamId: team });
  const newId = () => `sb_${ulid().toLowerCase()}`;
  const create = (sandboxId = newId()) => service.create({ meta: meta(), sandboxId, template: 'base', vcpus: 1, memoryMb: 512, timeoutSec: 0 });
  const events = async (id: string) => (await store.load(Aggregate.Sandbox, id)).events;
  const full = (resource: string) => (e: unknown) => e instanceof WrennError && e.code === ErrorCode.HostFull && e.details?.resource === resource;

  before(async () => {
    env = await createTestEnv('placement');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
    kv = await env.nc.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    hosts = new HostDirectory(env.nc, env.naming, log);
    await hosts.onApplicationBootstrap();
    const config = { ...loadConfig({ ...process.env, ...env.env }), hostCommandTimeoutMs: 5000, hostCreateTimeoutMs: 5000 };
    service = new SandboxLifecycleService(store, config, log, hosts, new HostClient(env.nc, env.naming), new TemplateLookup(ds), new QuotaService(store, config, log));
    for (const hostId of [A, B]) {
      subs.push(
        serve(env.nc, env.naming.hostSubject(hostId, HostOp.Create), async (body: any) => {
          creates.push({ hostId, sandboxId: body.spec.sandboxId });
          await onCreate[hostId](body.spec.sandboxId);
          return { sandboxId: body.spec.sandboxId, elapsedMs: 1 };
        }),
        serve(env.nc, env.naming.hostSubject(hostId, HostOp.Destroy), async (body: any) => {
          destroys.push(body.sandboxId);
          return {};
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
  beforeEach(() => {
    team = `team_${ulid().toLowerCase()}`;
    creates.length = 0;
    destroys = [];
    onCreate = { [A]: async () => undefined, [B]: async () => undefined };
  });

  it('places on the second host when the first one’s heartbeat shows it full', async () => {
    await announce(A, 0);
    await announce(B, 100);
    const id = newId();
    await create(id);
    assert.deepEqual(creates, [{ hostId: B, sandboxId: id }]);
    const log = await events(id);
    assert.deepEqual(log.map((e) => e.type), ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started']);
    assert.equal((log[1].data as { hostId: string }).hostId, B);
  });

  it('answers 503 host_full (memory), fails the sandbox and asks no host, when both are full', async () => {
    await announce(A, 0);
    await announce(B, 0);
    const id = newId();
    await assert.rejects(create(id), (e: unknown) => {
      assert.ok(full('memory')(e), String(e));
      const error = e as WrennError;
      assert.match(error.message, /no host has room for this sandbox/);
      assert.match(error.message, /host h-place-a is out of memory/);
      assert.match(error.message, /host h-place-b is out of memory/);
      assert.deepEqual(error.details?.hosts, [{ host_id: A, resource: 'memory' }, { host_id: B, resource: 'memory' }]);
      return true;
    });
    assert.deepEqual(creates, []);
    const log = await events(id);
    assert.deepEqual(log.map((e) => e.type), ['sandbox.requested', 'sandbox.failed']);
    assert.match((log[1].data as { reason: string }).reason, /every host is full/);
  });

  it('tries the next host when the first refuses on its fresh figures, before answering', async () => {
    // Both beats say there is room; A has filled up since its last one.
    await announce(A, 1000);
    await announce(B, 10);
    onCreate[A] = async () => {
      throw new WrennError(ErrorCode.HostFull, `host ${A} is out of memory: 23600 MiB really in use, 1024 MiB reserved, of 24576 MiB`, { resource: 'memory' });
    };
    const id = newId();
    await create(id);
    assert.deepEqual(creates, [{ hostId: A, sandboxId: id }, { hostId: B, sandboxId: id }]);
    const log = await events(id);
    assert.deepEqual(log.map((e) => e.type), ['sandbox.requested', 'sandbox.scheduled', 'sandbox.scheduled', 'sandbox.started']);
    assert.deepEqual(log.slice(1, 3).map((e) => (e.data as { hostId: string }).hostId), [A, B]);
    assert.deepEqual(destroys, [], 'a host that refused did nothing to undo');
  });

  it('answers host_full when every host refuses on its fresh figures, and a retry of the command changes nothing', async () => {
    await announce(A, 1000);
    await announce(B, 1000);
    for (const h of [A, B]) {
      onCreate[h] = async () => {
        throw new WrennError(ErrorCode.HostFull, `host ${h} is out of memory: 23600 MiB really in use, 1024 MiB reserved, of 24576 MiB`, { resource: 'memory' });
      };
    }
    const id = newId();
    await assert.rejects(create(id), full('memory'));
    assert.deepEqual(creates.map((c) => c.hostId).sort(), [A, B]);
    assert.deepEqual((await events(id)).map((e) => e.type), ['sandbox.requested', 'sandbox.scheduled', 'sandbox.scheduled', 'sandbox.failed']);
  });

  it('admits a burst of concurrent creates only as far as the beats and the creates under way allow', async () => {
    // Room for 3 on A, none on B; each create is held on the host until all have been placed.
    await announce(A, 3);
    await announce(B, 0);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    onCreate[A] = () => held;
    const burst = Array.from({ length: 8 }, () => create());
    const settled = Promise.allSettled(burst);
    await eventually(() => creates.length === 3, 5000, 'three creates on A');
    release();
    const results = await settled;
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(refused.length, 5);
    assert.ok(refused.every((r) => full('memory')(r.reason)), refused.map((r) => String(r.reason)).join('\n'));
    assert.deepEqual(new Set(creates.map((c) => c.hostId)), new Set([A]));
  });

  it('answers no_host_available, not host_full, when no host is live', async () => {
    for (const h of [A, B]) {
      const stale = { ...beat(h, 1000), at: Date.now() - 120_000 };
      await kv.put(h, JSON.stringify(stale));
      await eventually(() => hosts.get(h)?.at === stale.at, 5000, `the stale beat of ${h}`);
    }
    await assert.rejects(create(), (e: unknown) => e instanceof WrennError && e.code === ErrorCode.NoHostAvailable);
    assert.deepEqual(creates, []);
  });
});

import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregate, CommandMeta, ErrorCode, HostHeartbeat, HostOp, WrennError } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createDataSource, migrate } from '@wrenn/db';
import { EventStore } from '@wrenn/eventlog';
import { createLogger } from '@wrenn/logger';
import { HostClient, HostHeartbeats, serve } from '@wrenn/messaging';
import { rebuildProjection, templateProjection } from '@wrenn/projections';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { Subscription } from 'nats';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { CatalogReadsRepository } from '../repositories/catalog-reads.repository';
import { TemplateNamesRepository } from '../repositories/template-names.repository';
import { TemplateCatalogService } from './template-catalog.service';

const HOST = 'h-cat';
const log = createLogger('test');

/**
 * The catalog on the real log, KV and read models; the host agent is a scripted responder on the
 * real host.<id>.<op> subjects.
 */
describe(TemplateCatalogService.name, () => {
  let env: TestEnv;
  let ds: DataSource;
  let store: EventStore;
  let catalog: TemplateCatalogService;
  const subs: Subscription[] = [];
  const received: Array<{ op: string; body: any }> = [];
  let createAnswer: (body: any) => Promise<unknown>;

  const meta = (): CommandMeta => ({ commandId: `cmd_${ulid().toLowerCase()}`, correlationId: 'c', actor: { kind: 'system', id: 'test' }, teamId: 'team_1' });
  const beat: HostHeartbeat = {
    hostId: HOST, bootId: 'b', runtime: 'namespace', capacity: { vcpus: 16, memoryMb: 8192, maxSandboxes: 10 },
    used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at: Date.now() + 3_600_000, leaseMs: 60_000, version: 'test', dataPlaneUrl: 'http://127.0.0.1:1',
  };

  async function runningSandbox(): Promise<string> {
    const id = `sb_${ulid().toLowerCase()}`;
    const m = { correlationId: 'c', causationId: `seed:${id}`, actor: { kind: 'system' as const, id: 'test' }, teamId: 'team_1' };
    await store.append(Aggregate.Sandbox, id, [
      { type: 'sandbox.requested', data: { sandboxId: id, teamId: 'team_1', template: 'base', vcpus: 2, memoryMb: 384, timeoutSec: 0 } },
      { type: 'sandbox.scheduled', data: { hostId: HOST, bootId: 'b' } },
      { type: 'sandbox.started', data: { hostId: HOST, elapsedMs: 1 } },
    ], m, 0);
    return id;
  }
  const project = () => rebuildProjection(store, ds, templateProjection(env.naming));

  before(async () => {
    env = await createTestEnv('catalog');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
    const kv = await env.nc.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    await kv.put(HOST, JSON.stringify(beat));
    const config = { ...loadConfig({ ...process.env, ...env.env }), hostCommandTimeoutMs: 2000, hostCreateTimeoutMs: 2000 };
    catalog = new TemplateCatalogService(
      store, config, log, new HostClient(env.nc, env.naming), new HostHeartbeats(env.nc, env.naming.hostsBucket), new TemplateNamesRepository(env.nc, env.naming), new CatalogReadsRepository(ds),
    );
    subs.push(serve(env.nc, env.naming.hostSubject(HOST, HostOp.CreateTemplate), async (body: any) => {
      received.push({ op: HostOp.CreateTemplate, body });
      return createAnswer(body);
    }));
    subs.push(serve(env.nc, env.naming.hostSubject(HOST, HostOp.DeleteTemplate), async (body: any) => {
      received.push({ op: HostOp.DeleteTemplate, body });
      return { templateId: body.templateId };
    }));
  });
  after(async () => {
    for (const sub of subs) sub.unsubscribe();
    await ds.destroy();
    await env.cleanup();
  });
  beforeEach(() => {
    received.length = 0;
    createAnswer = async (body) => {
      await new Promise((r) => setTimeout(r, 50));
      return { templateId: body.templateId, sizeBytes: 2048, elapsedMs: 50 };
    };
  });

  it('gives a name to exactly one of two concurrent creates', async () => {
    const sb = await runningSandbox();
    const results = await Promise.allSettled([catalog.create({ meta: meta(), sandboxId: sb, name: 'race' }), catalog.create({ meta: meta(), sandboxId: sb, name: 'race' })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.equal((lost[0].reason as WrennError).code, ErrorCode.TemplateExists);
    assert.equal(received.length, 1, 'only the winner reached the host');
    const { templateId } = (won[0] as PromiseFulfilledResult<{ templateId: string }>).value;
    const { events } = await store.load(Aggregate.Template, templateId);
    assert.deepEqual(events.map((e) => e.type), ['template.requested', 'template.created']);
    assert.deepEqual({ ...(events[0].data as object), templateId: undefined }, { templateId: undefined, teamId: 'team_1', name: 'race', sandboxId: sb, hostId: HOST, vcpus: 2, memoryMb: 384 });
  });

  it('records a failed template and frees its name', async () => {
    const sb = await runningSandbox();
    createAnswer = async () => {
      throw new WrennError(ErrorCode.InsufficientStorage, 'disk full');
    };
    await assert.rejects(catalog.create({ meta: meta(), sandboxId: sb, name: 'unlucky' }), (e: WrennError) => e.code === ErrorCode.InsufficientStorage);
    const failedId = received[0].body.templateId;
    assert.deepEqual((await store.load(Aggregate.Template, failedId)).events.map((e) => e.type), ['template.requested', 'template.failed']);
    createAnswer = async (body) => ({ templateId: body.templateId, sizeBytes: 1, elapsedMs: 1 });
    const again = await catalog.create({ meta: meta(), sandboxId: sb, name: 'unlucky' });
    assert.notEqual(again.templateId, failedId);
  });

  it('refuses templates of sandboxes that are not running or belong to another team', async () => {
    const sb = await runningSandbox();
    await assert.rejects(catalog.create({ meta: { ...meta(), teamId: 'team_2' }, sandboxId: sb, name: 'theirs' }), (e: WrennError) => e.code === ErrorCode.SandboxNotFound);
    await assert.rejects(catalog.create({ meta: meta(), sandboxId: '../../etc', name: 'x' }), (e: WrennError) => e.code === ErrorCode.SandboxNotFound);
    await assert.rejects(catalog.create({ meta: meta(), sandboxId: sb, name: '../x' }), (e: WrennError) => e.code === ErrorCode.ValidationFailed);
    await assert.rejects(catalog.create({ meta: meta(), sandboxId: sb, name: 'base' }), (e: WrennError) => e.code === ErrorCode.TemplateExists);
    assert.equal(received.length, 0);
  });

  it('fails a template abandoned while creating, freeing its name, and leaves settled ones alone', async () => {
    const names = new TemplateNamesRepository(env.nc, env.naming);
    const id = `tpl_${ulid().toLowerCase()}`;
    assert.ok(await names.take('team_1', 'orphaned', id));
    await store.append(Aggregate.Template, id, [
      { type: 'template.requested', data: { templateId: id, teamId: 'team_1', name: 'orphaned', sandboxId: 'sb_x', hostId: HOST, vcpus: 1, memoryMb: 128 } },
    ], { correlationId: 'c', causationId: `seed:${id}`, actor: { kind: 'system', id: 'test' }, teamId: 'team_1' }, 0);
    await catalog.fail({ meta: meta(), templateId: id, reason: 'abandoned' });
    assert.deepEqual((await store.load(Aggregate.Template, id)).events.map((e) => e.type), ['template.requested', 'template.failed']);
    assert.equal(await names.holder('team_1', 'orphaned'), null);
    const again = await catalog.fail({ meta: meta(), templateId: id, reason: 'abandoned' });
    assert.equal(again.seq, await store.version(Aggregate.Template, id), 'nothing decided twice');
  });

  it('deletes a template only when no sandbox from it is left, on its host first', async () => {
    const sb = await runningSandbox();
    const { templateId } = await catalog.create({ meta: meta(), sandboxId: sb, name: 'shared' });
    await project();
    const user = `sb_${ulid().toLowerCase()}`;
    await ds.query(
      `INSERT INTO sandboxes (id, team_id, state, template, vcpus, memory_mb, timeout_sec, template_id, version, created_at, updated_at)
       VALUES ($1, 'team_1', 'paused', 'shared', 2, 384, 0, $2, 1, now(), now())`,
      [user, templateId],
    );
    await assert.rejects(catalog.delete({ meta: meta(), name: 'shared' }), (e: WrennError) => e.code === ErrorCode.TemplateInUse && (e.details?.sandbox_ids as string[])[0] === user);
    await assert.rejects(catalog.delete({ meta: { ...meta(), teamId: 'team_2' }, name: 'shared' }), (e: WrennError) => e.code === ErrorCode.TemplateNotFound);
    await ds.query(`UPDATE sandboxes SET state = 'deleted' WHERE id = $1`, [user]);
    await catalog.delete({ meta: meta(), name: 'shared' });
    assert.equal(received.filter((r) => r.op === HostOp.DeleteTemplate).at(-1)?.body.templateId, templateId);
    assert.equal((await store.load(Aggregate.Template, templateId)).events.at(-1)!.type, 'template.deleted');
    await project();
    await assert.rejects(catalog.delete({ meta: meta(), name: 'shared' }), (e: WrennError) => e.code === ErrorCode.TemplateNotFound);
  });
});

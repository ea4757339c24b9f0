import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregate } from '@wrenn/contracts';
import { createDataSource, migrate } from '@wrenn/db';
import { TemplateEvent, TemplateEventType as T } from '@wrenn/domain';
import { EventStore } from '@wrenn/eventlog';
import { rebuildProjection } from './runner/rebuild';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { DataSource } from 'typeorm';
import { sandboxProjection } from './sandbox.projection';
import { templateProjection } from './template.projection';

const META = { correlationId: 'c', causationId: 'k', actor: { kind: 'system' as const, id: 'test' }, teamId: 'team_1' };
const TPL = 'tpl_01jdaaaaaaaaaaaaaaaaaaaaaa';

/** Given these events on the real log, the read models hold these rows (rebuilt by replay). */
describe('template and sandbox projections', () => {
  let env: TestEnv;
  let ds: DataSource;
  let store: EventStore;

  before(async () => {
    env = await createTestEnv('tplproj');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
  });
  after(async () => {
    await ds.destroy();
    await env.cleanup();
  });

  async function appendAll(aggregate: Aggregate, id: string, events: Array<{ type: string; data: unknown }>): Promise<void> {
    let version = 0;
    for (const event of events) version = (await store.append(aggregate, id, [event], META, version)).seq;
  }

  it('shows a template from request to ready to deleted, with its host, locked size and bytes', async () => {
    const requested: TemplateEvent = {
      type: T.Requested,
      data: { templateId: TPL, teamId: 'team_1', name: 'py-env', sandboxId: 'sb_1', hostId: 'h1', vcpus: 2, memoryMb: 1024 },
    };
    await appendAll(Aggregate.Template, TPL, [requested, { type: T.Created, data: { sizeBytes: 8192, elapsedMs: 30 } }]);
    await rebuildProjection(store, ds, templateProjection(env.naming));
    const [row] = await ds.query('SELECT * FROM templates WHERE id = $1', [TPL]);
    assert.equal(row.state, 'ready');
    assert.equal(row.name, 'py-env');
    assert.equal(row.host_id, 'h1');
    assert.equal(row.vcpus, 2);
    assert.equal(row.memory_mb, 1024);
    assert.equal(Number(row.size_bytes), 8192);

    await store.append(Aggregate.Template, TPL, [{ type: T.Deleted, data: {} }], META, (await store.version(Aggregate.Template, TPL)));
    await rebuildProjection(store, ds, templateProjection(env.naming));
    const [gone] = await ds.query('SELECT state FROM templates WHERE id = $1', [TPL]);
    assert.equal(gone.state, 'deleted');
  });

  it('records a failed template with its reason', async () => {
    const id = 'tpl_01jdbbbbbbbbbbbbbbbbbbbbbb';
    await appendAll(Aggregate.Template, id, [
      { type: T.Requested, data: { templateId: id, teamId: 'team_1', name: 'x', sandboxId: 'sb_1', hostId: 'h1', vcpus: 1, memoryMb: 512 } },
      { type: T.Failed, data: { reason: 'disk full' } },
    ]);
    await rebuildProjection(store, ds, templateProjection(env.naming));
    const [row] = await ds.query('SELECT state, failure_reason FROM templates WHERE id = $1', [id]);
    assert.deepEqual({ ...row }, { state: 'failed', failure_reason: 'disk full' });
  });

  it('keeps a sandbox’s template and its snapshot size while paused, and clears the size on resume', async () => {
    const id = 'sb_01jdcccccccccccccccccccccc';
    const base = [
      { type: 'sandbox.requested', data: { sandboxId: id, teamId: 'team_1', template: 'py-env', vcpus: 2, memoryMb: 1024, timeoutSec: 30, templateId: TPL } },
      { type: 'sandbox.scheduled', data: { hostId: 'h1', bootId: 'b1' } },
      { type: 'sandbox.started', data: { hostId: 'h1', elapsedMs: 10 } },
      { type: 'sandbox.pause_requested', data: { reason: 'ttl' } },
      { type: 'sandbox.auto_paused', data: { snapshotRef: 'snap_x', sizeBytes: 4096 } },
    ];
    await appendAll(Aggregate.Sandbox, id, base);
    await rebuildProjection(store, ds, sandboxProjection(env.naming));
    const [paused] = await ds.query('SELECT state, template_id, snapshot_ref, snapshot_size_bytes, timeout_sec FROM sandboxes WHERE id = $1', [id]);
    assert.deepEqual({ ...paused, snapshot_size_bytes: Number(paused.snapshot_size_bytes) }, {
      state: 'paused', template_id: TPL, snapshot_ref: 'snap_x', snapshot_size_bytes: 4096, timeout_sec: 30,
    });
    let version = await store.version(Aggregate.Sandbox, id);
    version = (await store.append(Aggregate.Sandbox, id, [{ type: 'sandbox.resume_requested', data: { hostId: 'h1', bootId: 'b1' } }], META, version)).seq;
    await store.append(Aggregate.Sandbox, id, [{ type: 'sandbox.resumed', data: { hostId: 'h1' } }], META, version);
    await rebuildProjection(store, ds, sandboxProjection(env.naming));
    const [running] = await ds.query('SELECT state, snapshot_ref, snapshot_size_bytes FROM sandboxes WHERE id = $1', [id]);
    assert.deepEqual({ ...running }, { state: 'running', snapshot_ref: null, snapshot_size_bytes: null });
  });
});

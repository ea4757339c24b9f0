import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDataSource, migrate } from '@wrenn/db';
import { createLogger } from '@wrenn/logger';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { headers as natsHeaders, JsMsg } from 'nats';
import { DataSource, EntityManager } from 'typeorm';
import { EventStore, StoredEvent } from '@wrenn/eventlog';
import { Projection } from '../projection';
import { ProjectionRunner } from './projection-runner';
import { rebuildProjection, rebuildProjections } from './rebuild';

const META = { correlationId: 'c', causationId: 'k', actor: { kind: 'system' as const, id: 'test' }, teamId: 'team_1' };
const log = createLogger('test');

/** Counts applications per event id: a second application of one event would show as 2. */
function countingProjection(env: TestEnv, hooks: { failOnce?: Set<string>; poison?: Set<string> } = {}): Projection & { calls: number } {
  const projection = {
    name: 'counting',
    filterSubject: env.naming.aggregateWildcard('team'),
    tables: ['applied_events'],
    calls: 0,
    async apply(event: StoredEvent, tx: EntityManager) {
      projection.calls++;
      const tag = (event.data as { tag: string }).tag;
      if (hooks.failOnce?.delete(tag)) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      if (hooks.poison?.has(tag)) throw new Error(`cannot apply ${tag}`);
      await tx.query(
        `INSERT INTO applied_events (event_id, tag, times) VALUES ($1, $2, 1)
         ON CONFLICT (event_id) DO UPDATE SET times = applied_events.times + 1`,
        [event.id, tag],
      );
    },
  };
  return projection;
}

describe(ProjectionRunner.name, () => {
  let env: TestEnv;
  let ds: DataSource;
  let store: EventStore;

  before(async () => {
    env = await createTestEnv('projrunner');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    await ds.query('CREATE TABLE applied_events (event_id text PRIMARY KEY, tag text NOT NULL, times int NOT NULL)');
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
  });
  after(async () => {
    await ds.destroy();
    await env.cleanup();
  });

  let aggregateCounter = 0;
  let version = new Map<string, number>();
  async function emit(tag: string, aggregate = `agg${aggregateCounter}`): Promise<number> {
    const result = await store.append('team', aggregate, [{ type: 'team.tagged', data: { tag } }], META, version.get(aggregate) ?? 0);
    version.set(aggregate, result.seq);
    return result.seq;
  }
  const rows = async () =>
    (await ds.query('SELECT tag, times FROM applied_events ORDER BY tag')) as Array<{ tag: string; times: number }>;
  const checkpoint = async (name: string) =>
    Number((await ds.query('SELECT position FROM projection_checkpoints WHERE projection = $1', [name]))[0]?.position ?? 0);

  beforeEach(async () => {
    aggregateCounter++;
    version = new Map();
    await ds.query('TRUNCATE applied_events, projection_checkpoints, dead_letters');
    const jsm = await env.nc.jetstreamManager();
    await jsm.consumers.delete(env.naming.stream, env.naming.consumerName('counting')).catch(() => undefined);
    await jsm.streams.purge(env.naming.stream);
  });

  it('applies each event once, and commits the checkpoint with the rows', async () => {
    const projection = countingProjection(env);
    const runner = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection, log, { fetchExpiresMs: 200 });
    await runner.start();
    try {
      await emit('a');
      await emit('b');
      const last = await emit('c');
      await eventually(async () => (await checkpoint('counting')) === last, 10_000, 'checkpoint');
      assert.deepEqual(await rows(), [{ tag: 'a', times: 1 }, { tag: 'b', times: 1 }, { tag: 'c', times: 1 }]);
    } finally {
      await runner.stop();
    }
  });

  it('skips a batch redelivered after a crash between commit and ack', async () => {
    const projection = countingProjection(env);
    const crashing = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection, log, { ackWaitMs: 1000 });
    await crashing.ensureConsumer();
    await emit('a');
    const last = await emit('b');
    // Deliver by hand and "crash" after the commit: acks never leave.
    const consumer = await env.nc.jetstream().consumers.get(env.naming.stream, crashing.durableName);
    const batch: JsMsg[] = [];
    for await (const msg of await consumer.fetch({ max_messages: 10, expires: 1000 })) batch.push(msg);
    assert.equal(batch.length, 2);
    for (const msg of batch) {
      msg.ack = () => undefined;
      msg.term = () => undefined;
    }
    await crashing.process(batch);
    assert.equal(await checkpoint('counting'), last);
    // The same messages delivered again (as after an ack wait) change nothing.
    const again = await crashing.process(batch);
    assert.deepEqual({ applied: again?.applied, skipped: again?.skipped }, { applied: 0, skipped: 2 });

    // A fresh runner takes over from the checkpoint: a and b are not applied a second time.
    const projection2 = countingProjection(env);
    const runner = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection2, log, { fetchExpiresMs: 200, ackWaitMs: 1000 });
    await runner.start();
    try {
      const third = await emit('c');
      await eventually(async () => (await checkpoint('counting')) === third, 10_000, 'checkpoint after redelivery');
      assert.deepEqual(await rows(), [{ tag: 'a', times: 1 }, { tag: 'b', times: 1 }, { tag: 'c', times: 1 }]);
      assert.equal(projection2.calls, 1);
    } finally {
      await runner.stop();
    }
  });

  it('naks a batch on a transient database error and applies it later, once', async () => {
    const projection = countingProjection(env, { failOnce: new Set(['b']) });
    const runner = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection, log, { fetchExpiresMs: 200, nakDelayMs: 300 });
    await runner.start();
    try {
      await emit('a');
      await emit('b');
      const last = await emit('c');
      await eventually(async () => (await checkpoint('counting')) === last, 10_000, 'checkpoint');
      assert.deepEqual(await rows(), [{ tag: 'a', times: 1 }, { tag: 'b', times: 1 }, { tag: 'c', times: 1 }]);
      assert.equal((await ds.query('SELECT count(*)::int AS n FROM dead_letters'))[0].n, 0);
      assert.ok(projection.calls > 3, 'the failed batch was retried');
    } finally {
      await runner.stop();
    }
  });

  it('parks poison events with the reason and keeps the stream moving', async () => {
    const projection = countingProjection(env, { poison: new Set(['bad']) });
    const runner = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection, log, { fetchExpiresMs: 200 });
    await runner.start();
    try {
      await emit('a');
      await emit('bad');
      // Not even an event: a message without the envelope, published straight onto the subject.
      const h = natsHeaders();
      h.set('Wrenn-Event-Type', 'team.tagged');
      await env.nc.jetstream().publish(env.naming.eventSubject('team', 'garbage'), 'not json', { headers: h });
      const last = await emit('c');
      await eventually(async () => (await checkpoint('counting')) === last, 10_000, 'checkpoint');
      assert.deepEqual(await rows(), [{ tag: 'a', times: 1 }, { tag: 'c', times: 1 }]);
      const parked = (await ds.query('SELECT subject, event_type, reason FROM dead_letters ORDER BY stream_seq')) as Array<{ subject: string; event_type: string; reason: string }>;
      assert.equal(parked.length, 2);
      assert.match(parked[0].reason, /cannot apply bad/);
      assert.match(parked[1].reason, /missing header|not JSON/);
      assert.equal(parked[1].subject, env.naming.eventSubject('team', 'garbage'));
    } finally {
      await runner.stop();
    }
  });

  it('keeps a single active runner per projection', async () => {
    const a = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, countingProjection(env), log, { fetchExpiresMs: 200, leaderRetryMs: 200 });
    const b = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, countingProjection(env), log, { fetchExpiresMs: 200, leaderRetryMs: 200 });
    await a.start();
    await b.start();
    try {
      let last = 0;
      for (let i = 0; i < 40; i++) last = await emit(`e${String(i).padStart(2, '0')}`, `agg${aggregateCounter}-${i % 4}`);
      await eventually(async () => (await checkpoint('counting')) === last, 10_000, 'checkpoint');
      const all = await rows();
      assert.equal(all.length, 40);
      assert.ok(all.every((r) => r.times === 1));
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('replays into identical rows and moves the checkpoint to the end of the log', async () => {
    const projection = countingProjection(env);
    const runner = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection, log, { fetchExpiresMs: 200 });
    await runner.start();
    let last = 0;
    try {
      for (let i = 0; i < 25; i++) last = await emit(`r${String(i).padStart(2, '0')}`);
      await eventually(async () => (await checkpoint('counting')) === last, 10_000, 'checkpoint');
    } finally {
      await runner.stop();
    }
    const before = await ds.query('SELECT * FROM applied_events ORDER BY event_id');
    const result = await rebuildProjection(store, ds, countingProjection(env));
    assert.equal(result.events, 25);
    assert.deepEqual(await ds.query('SELECT * FROM applied_events ORDER BY event_id'), before);
    assert.equal(await checkpoint('counting'), last);
  });
  it('replays several projections all or nothing: one failing leaves every other untouched', async () => {
    const projection = countingProjection(env);
    const runner = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection, log, { fetchExpiresMs: 200 });
    await runner.start();
    let last = 0;
    try {
      for (let i = 0; i < 5; i++) last = await emit(`n${i}`);
      await eventually(async () => (await checkpoint('counting')) === last, 10_000, 'checkpoint');
    } finally {
      await runner.stop();
    }
    const before = await rows();
    // Another read model whose database keeps failing (a transient error is never parked).
    const broken: Projection = {
      name: 'broken',
      filterSubject: env.naming.aggregateWildcard('team'),
      tables: [],
      async apply() {
        throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      },
    };
    // The counting table is emptied inside the replay; were it committed, it would show.
    await assert.rejects(rebuildProjections(store, ds, [countingProjection(env), broken]), /could not serialize/);
    assert.deepEqual(await rows(), before);
    assert.equal(await checkpoint('counting'), last);
    assert.equal(await checkpoint('broken'), 0);
  });
});

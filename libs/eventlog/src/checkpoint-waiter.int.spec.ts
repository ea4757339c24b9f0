import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { Client } from 'pg';
import { CHECKPOINT_CHANNEL, CheckpointWaiter } from './checkpoint-waiter';

/** Read-your-writes waits on real PostgreSQL NOTIFY, as the projector sends them. */
describe(CheckpointWaiter.name, () => {
  let env: TestEnv;
  let db: Client;
  let waiter: CheckpointWaiter;
  before(async () => {
    env = await createTestEnv('ckptwait');
    db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
    await db.query('CREATE TABLE IF NOT EXISTS projection_checkpoints (projection text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL)');
    waiter = new CheckpointWaiter(env.databaseUrl);
    await waiter.start();
  });
  after(async () => {
    await waiter?.stop();
    await db?.end();
    await env?.cleanup();
  });

  const checkpoint = async (projection: string, position: number) => {
    await db.query('INSERT INTO projection_checkpoints VALUES ($1, $2, now()) ON CONFLICT (projection) DO UPDATE SET position = $2', [projection, position]);
    await db.query('SELECT pg_notify($1, $2)', [CHECKPOINT_CHANNEL, `${projection}:${position}`]);
  };

  it('wakes each of many waiters when its own sequence is reached, never before, and only for its projection', async () => {
    await checkpoint('p1', 0);
    await checkpoint('p2', 0);
    const woken: number[] = [];
    const seqs = Array.from({ length: 300 }, (_, i) => 1 + ((i * 7919) % 300)); // 1..300, shuffled
    const waits = seqs.map((seq) => waiter.waitFor('p1', seq, 20_000).then((ok) => (assert.equal(ok, true), woken.push(seq))));
    const other = waiter.waitFor('p2', 1, 20_000).then((ok) => (woken.push(-1), ok));
    await new Promise((r) => setTimeout(r, 200)); // the window-closing reads are answered
    for (const position of [50, 120, 300]) {
      await checkpoint('p1', position);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual([...woken].sort((a, b) => a - b), Array.from({ length: position }, (_, i) => i + 1), `woken at checkpoint ${position}`);
    }
    await Promise.all(waits);
    assert.ok(!woken.includes(-1), 'the other projection is still waiting');
    await checkpoint('p2', 1);
    assert.equal(await other, true);
  });

  it('sees a checkpoint that moved before the wait began, without a notification', async () => {
    await db.query("INSERT INTO projection_checkpoints VALUES ('p3', 40, now()) ON CONFLICT (projection) DO UPDATE SET position = 40");
    const t0 = performance.now();
    assert.equal(await waiter.waitFor('p3', 40, 10_000), true);
    assert.ok(performance.now() - t0 < 5000, 'answered by the window-closing read, not the deadline');
  });

  it('answers false at the deadline when the projection never gets there, and a later checkpoint still wakes the rest', async () => {
    await checkpoint('p4', 1);
    const late = await Promise.all(Array.from({ length: 100 }, (_, i) => waiter.waitFor('p4', 1000 + i, 300)));
    assert.ok(late.every((ok) => ok === false));
    const pending = waiter.waitFor('p4', 5, 20_000);
    await checkpoint('p4', 5);
    assert.equal(await pending, true);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '@wrenn/testing';
import { allProjections } from '../index';
import { scriptedLog, ScriptedLog } from '@wrenn/projections-test-support';
import { replayAndCheck } from './scratch-replay';

/**
 * replayAndCheck against live runners on a real log and database: it finds exactly the rows an
 * operator (or a bug) changed behind the projector's back, and leaves no scratch schema.
 */
describe('replay into a scratch schema, diffed against the live read models', () => {
  let log: ScriptedLog;
  let last = 0;
  const sb = (t: string, id: string, type: string, data: object = {}) => log.append(`2026-04-01T${t}Z`, 'sandbox', id, `sandbox.${type}`, data);
  const req = (t: string, id: string) => sb(t, id, 'requested', { sandboxId: id, teamId: 'team_a', template: 'base', vcpus: 2, memoryMb: 512, timeoutSec: 60 });
  const scratchSchemas = async () =>
    ((await log.ds.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wrenn_replay_%'`)) as Array<{ nspname: string }>).map((r) => r.nspname);

  before(async () => {
    log = await scriptedLog('scratchreplay');
    await log.run(allProjections(log.env.naming));
    await req('09:00:00.000', 'sb_a');
    await sb('09:00:01.000', 'sb_a', 'scheduled', { hostId: 'h1', bootId: 'b1' });
    await sb('09:00:02.000', 'sb_a', 'started', { hostId: 'h1', elapsedMs: 1 });
    await req('09:00:03.000', 'sb_b');
    await sb('09:00:04.000', 'sb_b', 'failed', { reason: 'no image', during: 'create' });
    await req('09:00:05.000', 'sb_c');
    last = await sb('09:00:06.000', 'sb_c', 'scheduled', { hostId: 'h1', bootId: 'b2' });
    // Every projection but templates (no template events here) has applied the last event.
    await eventually(async () => {
      const rows: Array<{ n: number }> = await log.ds.query(`SELECT count(*)::int AS n FROM projection_checkpoints WHERE projection <> 'templates' AND position >= $1`, [last]);
      return rows[0].n === 3;
    }, 15_000, 'the projector to catch up');
  });
  after(() => log.close());

  it('finds no difference when the projector is right, and drops its scratch schema', async () => {
    const report = await replayAndCheck(log.store, log.ds, allProjections(log.env.naming));
    assert.equal(report.differences, 0, JSON.stringify(report.tables.filter((t) => t.missing.length + t.extra.length + t.different.length)));
    assert.deepEqual(report.tables.map((t) => t.table).sort(), ['audit_log', 'sandboxes', 'templates', 'usage_intervals', 'usage_sandboxes']);
    assert.ok(report.projections.every((p) => p.position === last));
    assert.equal(report.projections.find((p) => p.projection === 'audit')?.events, 7);
    assert.deepEqual(await scratchSchemas(), []);
  });

  it('reports exactly the rows changed, removed and added in the live tables', async () => {
    await log.ds.query(`UPDATE sandboxes SET state = 'running', host_id = 'h9' WHERE id = 'sb_b'`);
    await log.ds.query(`DELETE FROM usage_sandboxes WHERE sandbox_id = 'sb_a'`);
    await log.ds.query(`INSERT INTO audit_log SELECT seq + 1000, event_id, team_id, actor_kind, actor_id, event_type, event_version, resource_type, resource_id, correlation_id, causation_id, occurred_at FROM audit_log WHERE seq = $1`, [last]);
    try {
      const report = await replayAndCheck(log.store, log.ds, allProjections(log.env.naming));
      assert.equal(report.differences, 3);
      const table = (name: string) => report.tables.find((t) => t.table === name)!;
      assert.deepEqual(table('sandboxes').different.map((d) => ({ key: d.key, columns: d.columns.sort(), live: d.live.state })), [
        { key: { id: 'sb_b' }, columns: ['host_id', 'state'], live: 'running' },
      ]);
      assert.equal(table('sandboxes').different[0].rebuilt.state, 'failed');
      assert.deepEqual(table('usage_sandboxes').missing.map((r) => r.sandbox_id), ['sb_a']);
      assert.deepEqual(table('audit_log').extra.map((r) => Number(r.seq)), [last + 1000]);
      for (const name of ['templates', 'usage_intervals']) assert.equal(table(name).missing.length + table(name).extra.length + table(name).different.length, 0, name);
      assert.deepEqual(await scratchSchemas(), []);
    } finally {
      // Put the live rows back as the log has them for the tests that follow.
      await log.ds.query(`DELETE FROM audit_log WHERE seq = $1`, [last + 1000]);
    }
  });

  it('compares at the live checkpoint while the projector keeps applying new events', async () => {
    // The tampered rows of the previous test are repaired by a rebuild of those two read models.
    const { rebuildProjections } = await import('./rebuild');
    const [sandboxes, , , usage] = allProjections(log.env.naming);
    await rebuildProjections(log.store, log.ds, [sandboxes, usage]);
    // Events arrive while the replay runs: each projection is compared where the projector is.
    const appending = (async () => {
      for (let i = 0; i < 10; i++) await req(`09:01:${String(i).padStart(2, '0')}.000`, `sb_n${i}`);
    })();
    const report = await replayAndCheck(log.store, log.ds, allProjections(log.env.naming));
    await appending;
    assert.equal(report.differences, 0, JSON.stringify(report.tables.filter((t) => t.missing.length + t.extra.length + t.different.length)));
    assert.deepEqual(await scratchSchemas(), []);
  });

  it('brings the copy to the live checkpoint when the projector moved past the rebuild', async () => {
    const live = allProjections(log.env.naming)[0];
    assert.equal(live.name, 'sandboxes');
    let appended = 0;
    // The rebuild's first chunk appends one more event and waits until the projector has it:
    // the live checkpoint is then past where the rebuild read the log.
    const racing = {
      ...live,
      async applyBatch(events: Parameters<NonNullable<typeof live.applyBatch>>[0], tx: Parameters<NonNullable<typeof live.applyBatch>>[1]) {
        if (!appended) {
          appended = await req('09:02:00.000', 'sb_late');
          await eventually(async () => Number((await log.ds.query(`SELECT position FROM projection_checkpoints WHERE projection = 'sandboxes'`))[0].position) >= appended, 10_000, 'the projector to apply sb_late');
        }
        return live.applyBatch!(events, tx);
      },
    };
    const report = await replayAndCheck(log.store, log.ds, [racing]);
    const [outcome] = report.projections;
    assert.ok(outcome.position < appended, 'the rebuild read the log before sb_late');
    assert.equal(outcome.livePosition, appended);
    assert.equal(report.differences, 0, JSON.stringify(report.tables));
    assert.deepEqual(await scratchSchemas(), []);
  });

  it('refuses to compare a projection the projector has not caught up with, and still drops the scratch schema', async () => {
    const lagging = { ...allProjections(log.env.naming)[0], name: 'sandboxes_never_run' };
    await assert.rejects(replayAndCheck(log.store, log.ds, [lagging], { catchUpTimeoutMs: 300 }), /behind the log.*projector running/);
    assert.deepEqual(await scratchSchemas(), []);
  });
});

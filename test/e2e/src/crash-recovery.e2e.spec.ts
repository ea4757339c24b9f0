import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@wrenn/testing';
import { Platform, startPlatform } from './platform';

/**
 * The platform is killed (SIGKILL) while creates are in flight and started again. Afterwards:
 * projections have continued from their checkpoints (every row matches its aggregate's last
 * event, nothing applied twice), every sandbox ended running or failed, and the host holds
 * exactly the running ones — nothing half-made.
 */
describe('crash while creating', () => {
  let p: Platform;
  before(async () => {
    // One warm sandbox: the survivors exercise a claim and the restart finds a warm leftover,
    // while most of the creates below are cold and slow enough to be caught mid-flight.
    p = await startPlatform('crash', { WRENN_WARM_POOL_SIZE: '1' });
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state = 'running'`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    await p.stop();
  });

  it('recovers with projections intact and no half-made sandboxes', async (t) => {
    // Two sandboxes finished before the crash: they must come back, re-adopted by the new agent.
    const survivors: string[] = [];
    for (let i = 0; i < 2; i++) survivors.push((await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id);
    const creates = Array.from({ length: 6 }, () => p.api('POST', '/v1/sandboxes', { memory_mb: 128 }).catch(() => undefined));
    // Kill the moment a create is on its host (state starting), so it is caught mid-flight.
    const deadline = Date.now() + 20_000;
    while ((await p.sql(`SELECT count(*)::int AS n FROM sandboxes WHERE state = 'starting'`))[0].n === 0) {
      assert.ok(Date.now() < deadline, 'a create reached its host');
    }
    await p.kill('SIGKILL');
    await Promise.all(creates);

    await p.restart();

    const names = p.env.naming;
    const jsm = await p.env.nc.jetstreamManager();
    const onLog = async () =>
      Object.keys((await jsm.streams.info(names.stream, { subjects_filter: names.aggregateWildcard('sandbox') })).state.subjects ?? {}).length;
    await eventually(
      async () =>
        (await p.sql(`SELECT count(*)::int AS n FROM sandboxes WHERE state NOT IN ('running', 'failed')`))[0].n === 0 &&
        (await p.sql(`SELECT count(*)::int AS n FROM sandboxes`))[0].n === (await onLog()),
      30_000,
      'every sandbox on the log to settle as running or failed',
    );

    t.diagnostic(`after restart: ${JSON.stringify(await p.sql('SELECT state, failure_reason, count(*)::int FROM sandboxes GROUP BY 1, 2'))}`);
    // The log and the read model agree, row by row.
    const rows = await p.sql<{ id: string; state: string; version: string }>('SELECT id, state, version FROM sandboxes');
    assert.ok(rows.length >= 2);
    for (const row of rows) {
      const last = await jsm.streams.getMessage(names.stream, { last_by_subj: names.eventSubject('sandbox', row.id) });
      assert.equal(Number(row.version), last.seq, `${row.id} projected up to its last event`);
    }
    assert.equal(await onLog(), rows.length, 'one row per sandbox on the log');
    assert.equal((await p.sql('SELECT count(*)::int AS n FROM dead_letters'))[0].n, 0);

    // The host holds exactly the running sandboxes.
    const running = rows.filter((r) => r.state === 'running').map((r) => r.id).sort();
    for (const id of survivors) assert.ok(running.includes(id), `${id} survived the crash`);
    await eventually(() => {
      const onHost = readdirSync(join(p.stateDir, 'sandboxes')).sort();
      return JSON.stringify(onHost) === JSON.stringify(running);
    }, 20_000, 'the host to hold exactly the running sandboxes');
    for (const id of running) {
      const res = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'echo', args: ['alive'] });
      assert.equal(res.body.stdout, 'alive\n');
    }
    const failed = rows.filter((r) => r.state === 'failed');
    assert.ok(failed.length >= 1, 'at least one create was interrupted');
    for (const row of failed) {
      const { body } = await p.api('GET', `/v1/sandboxes/${row.id}`);
      assert.ok(body.failure_reason, 'a failed sandbox says why');
    }
  });
});

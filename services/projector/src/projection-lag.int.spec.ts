import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Aggregate } from '@wrenn/contracts';
import { createDataSource, migrate } from '@wrenn/db';
import { EventMetadata, EventStore } from '@wrenn/eventlog';
import { allProjections } from '@wrenn/projections';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { DataSource } from 'typeorm';
import { projectionLagProvider } from './projection-lag';
import { ReadModelStatsRepository } from './read-model-stats.repository';

const meta: EventMetadata = { correlationId: 'c', causationId: 'c', actor: { kind: 'system', id: 'test' }, teamId: 'team_1' };

/**
 * Projection lag on the real log and checkpoints, no runner: the log sequences from a
 * projection's checkpoint to the newest event of its own subjects.
 */
describe(projectionLagProvider.name, () => {
  let env: TestEnv;
  let ds: DataSource;
  let store: EventStore;

  before(async () => {
    env = await createTestEnv('projlag');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
  });
  after(async () => {
    await ds?.destroy();
    await env?.cleanup();
  });

  const lags = async () => {
    const provider = projectionLagProvider(env.nc, env.naming, new ReadModelStatsRepository(ds), allProjections(env.naming));
    return Object.fromEntries((await provider()).map((s) => [s.labels.projection, s.value]));
  };
  const checkpoint = (projection: string, position: number) =>
    ds.query('INSERT INTO projection_checkpoints (projection, position, updated_at) VALUES ($1, $2, now()) ON CONFLICT (projection) DO UPDATE SET position = $2', [projection, position]);

  it('is 0 on an empty log and when caught up, and a projection is never behind events of other subjects', async () => {
    assert.deepEqual(await lags(), { sandboxes: 0, templates: 0, audit: 0, usage: 0 });

    const first = await store.append(Aggregate.Sandbox, 'sb_lag1', [{ type: 'sandbox.requested', data: {} }], meta, 0);
    await store.append(Aggregate.Sandbox, 'sb_lag1', [{ type: 'sandbox.scheduled', data: {} }], meta, first.seq);
    // Nothing applied yet: two events behind for every projection of sandbox events; templates have none.
    assert.deepEqual(await lags(), { sandboxes: 2, templates: 0, audit: 2, usage: 2 });

    const last = (await store.append(Aggregate.Template, 'tpl_lag1', [{ type: 'template.requested', data: {} }], meta, 0)).seq;
    await checkpoint('sandboxes', last - 1);
    await checkpoint('usage', first.seq);
    // The sandboxes projection is caught up: the newer template event is not its to apply.
    // The templates projection, at 0, is behind up to sequence 3 (its one event is the third).
    assert.deepEqual(await lags(), { sandboxes: 0, templates: 3, audit: 3, usage: 1 });

    for (const projection of ['templates', 'audit', 'usage']) await checkpoint(projection, last);
    assert.deepEqual(await lags(), { sandboxes: 0, templates: 0, audit: 0, usage: 0 });
  });
});

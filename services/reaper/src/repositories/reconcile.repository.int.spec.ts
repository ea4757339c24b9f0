import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDataSource, migrate } from '@wrenn/db';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { DataSource } from 'typeorm';
import { ReconcileRepository } from './reconcile.repository';

/** The reaper's reads on a real, migrated PostgreSQL, with rows as the projections write them. */
describe(ReconcileRepository.name, () => {
  let env: TestEnv;
  let ds: DataSource;
  let repo: ReconcileRepository;

  async function sandbox(id: string, state: string, idleSec: number, host: string | null = 'h1'): Promise<void> {
    await ds.query(
      `INSERT INTO sandboxes (id, team_id, state, template, vcpus, memory_mb, timeout_sec, host_id, boot_id, version, created_at, updated_at)
       VALUES ($1, 'team_1', $2, 'base', 1, 256, 300, $3, 'boot-1', 1, now(), now() - make_interval(secs => $4))`,
      [id, state, host, idleSec],
    );
  }

  async function template(id: string, state: string, idleSec: number): Promise<void> {
    await ds.query(
      `INSERT INTO templates (id, team_id, name, state, source_sandbox_id, host_id, vcpus, memory_mb, version, created_at, updated_at)
       VALUES ($1, 'team_2', $1, $2, 'sb_src', 'h1', 1, 256, 1, now(), now() - make_interval(secs => $3))`,
      [id, state, idleSec],
    );
  }

  before(async () => {
    env = await createTestEnv('reconcilerepo');
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
    await migrate(ds);
    repo = new ReconcileRepository(ds);
    await sandbox('sb_running', 'running', 90);
    await sandbox('sb_pending', 'pending', 0, null);
    await sandbox('sb_stopped', 'deleted', 10);
    await template('tpl_creating', 'creating', 120);
    await template('tpl_ready', 'ready', 120);
  });

  after(async () => {
    await ds?.destroy();
    await env?.cleanup();
  });

  it('lists every sandbox not stopped, with its host, team, timeout and idle time by the database clock', async () => {
    const live = await repo.liveSandboxes();
    assert.deepEqual([...live.keys()].sort(), ['sb_pending', 'sb_running']);
    const running = live.get('sb_running')!;
    assert.deepEqual(
      { id: running.id, state: running.state, hostId: running.hostId, bootId: running.bootId, teamId: running.teamId, timeoutSec: running.timeoutSec },
      { id: 'sb_running', state: 'running', hostId: 'h1', bootId: 'boot-1', teamId: 'team_1', timeoutSec: 300 },
    );
    assert.ok(running.idleMs >= 90_000 && running.idleMs < 100_000, `idle ${running.idleMs} ms`);
    assert.equal(live.get('sb_pending')!.hostId, null);
  });

  it('lists only templates still being created, with their team and idle time', async () => {
    const creating = await repo.creatingTemplates();
    assert.equal(creating.length, 1);
    assert.deepEqual({ id: creating[0].id, teamId: creating[0].teamId, state: creating[0].state }, { id: 'tpl_creating', teamId: 'team_2', state: 'creating' });
    assert.ok(creating[0].idleMs >= 120_000 && creating[0].idleMs < 130_000, `idle ${creating[0].idleMs} ms`);
  });

  it('tells a stopped sandbox from a live or unknown one', async () => {
    assert.equal(await repo.isDeleted('sb_stopped'), true);
    assert.equal(await repo.isDeleted('sb_running'), false);
    assert.equal(await repo.isDeleted('sb_never'), false);
  });
});

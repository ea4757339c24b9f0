import { Aggregate } from '@wrenn/contracts';
import { createDataSource, migrate } from '@wrenn/db';
import { CheckpointWaiter, EventMetadata, EventStore } from '@wrenn/eventlog';
import { Projection, ProjectionRunner } from '@wrenn/projections';
import { createLogger } from '@wrenn/logger';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { DataSource } from 'typeorm';

/**
 * A real log and database for projection tests, with a clock the test sets: every event is
 * appended through the real EventStore at the occurredAt the script says.
 */
export interface ScriptedLog {
  env: TestEnv;
  ds: DataSource;
  store: EventStore;
  /** Appends one event to an aggregate at `at` (ISO time); returns its stream sequence. */
  append(at: string, aggregate: Aggregate | string, id: string, type: string, data: object, meta?: Partial<EventMetadata>): Promise<number>;
  /** Starts live runners for these projections. */
  run(projections: Projection[]): Promise<void>;
  /** Resolves once every running projection has committed `seq`. */
  caughtUp(seq: number): Promise<void>;
  close(): Promise<void>;
}

export async function scriptedLog(label: string): Promise<ScriptedLog> {
  const env = await createTestEnv(label);
  const ds = createDataSource(env.databaseUrl);
  await ds.initialize();
  await migrate(ds);
  let now = new Date(0);
  const store = await EventStore.create(env.nc, env.naming, () => now);
  await store.ensureStream();
  const versions = new Map<string, number>();
  const runners: ProjectionRunner[] = [];
  const waiter = new CheckpointWaiter(env.databaseUrl);
  await waiter.start();
  const log = createLogger('test');
  log.level = 'warn';
  return {
    env,
    ds,
    store,
    async append(at, aggregate, id, type, data, meta = {}) {
      now = new Date(at);
      const key = `${aggregate}.${id}`;
      const full: EventMetadata = {
        correlationId: meta.correlationId ?? `corr_${id}`,
        causationId: meta.causationId ?? `cause_${type}_${versions.get(key) ?? 0}`,
        actor: meta.actor ?? { kind: 'user', id: 'usr_1' },
        teamId: meta.teamId ?? 'team_a',
      };
      const result = await store.append(aggregate as Aggregate, id, [{ type, data }], full, versions.get(key) ?? 0);
      versions.set(key, result.seq);
      return result.seq;
    },
    async run(projections) {
      for (const projection of projections) {
        const runner = new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, projection, log, { fetchExpiresMs: 200, batchSize: 7 });
        await runner.start();
        runners.push(runner);
      }
    },
    async caughtUp(seq) {
      for (const runner of runners) {
        if (!(await waiter.waitFor(runner.projection.name, seq, 15_000))) throw new Error(`${runner.projection.name} did not reach ${seq}`);
      }
    },
    async close() {
      await Promise.all(runners.map((r) => r.stop()));
      await waiter.stop();
      await ds.destroy();
      await env.cleanup();
    },
  };
}

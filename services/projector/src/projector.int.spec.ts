import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Aggregate, SchedulerCommand, ServiceName } from '@wrenn/contracts';
import { createDataSource } from '@wrenn/db';
import { CheckpointWaiter, EventMetadata, EventStore } from '@wrenn/eventlog';
import { natsConnectOptions } from '@wrenn/messaging';
import { serviceIdentity } from '@wrenn/nats-auth';
import { SANDBOX_PROJECTION } from '@wrenn/projections';
import { RunningService } from '@wrenn/service-kit';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { connect, NatsConnection, NatsError } from 'nats';
import { DataSource } from 'typeorm';

const CLI = join(__dirname, '../../../tools/cli/dist/main.js');
const META: EventMetadata = { correlationId: 'c', causationId: 'k', actor: { kind: 'user', id: 'usr_1' }, teamId: 'team_a' };

/**
 * The projector as it runs in production: its own NATS identity on an authenticated server, the
 * read models fed from the log, read-your-writes through the checkpoint notifications, and
 * `wrenn replay` (the CLI, in its own process) checking its work.
 */
describe('projector service', () => {
  let env: TestEnv;
  let projector: RunningService;
  let store: EventStore;
  let ds: DataSource;
  const waiter = () => new CheckpointWaiter(env.databaseUrl);
  const versions = new Map<string, number>();
  const open: NatsConnection[] = [];

  async function append(id: string, type: string, data: object): Promise<number> {
    const result = await store.append(Aggregate.Sandbox, id, [{ type, data }], META, versions.get(id) ?? 0);
    versions.set(id, result.seq);
    return result.seq;
  }

  function replay(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'replay', ...args], { env: { ...process.env, ...env.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out, err }));
    });
  }

  const scratchSchemas = async () => (await ds.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wrenn_replay_%'`)).length as number;

  before(async () => {
    env = await createTestEnv('projector', { natsAuth: true });
    Object.assign(process.env, env.env, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
    // Started before anything created the event stream: it waits for the stream instead of failing.
    const { bootstrapProjector } = await import('./bootstrap');
    projector = await bootstrapProjector();
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
    ds = createDataSource(env.databaseUrl);
    await ds.initialize();
  });

  after(async () => {
    await projector?.close();
    for (const nc of open) await nc.close().catch(() => undefined);
    if (ds?.isInitialized) await ds.destroy();
    await env?.cleanup();
  });

  it('feeds the read models from the log, and wakes read-your-writes waiters', async () => {
    const checkpoints = waiter();
    await checkpoints.start();
    try {
      await append('sb_1', 'sandbox.requested', { sandboxId: 'sb_1', teamId: 'team_a', template: 'base', vcpus: 2, memoryMb: 512, timeoutSec: 60 });
      await append('sb_1', 'sandbox.scheduled', { hostId: 'h1', bootId: 'b1' });
      const started = await append('sb_1', 'sandbox.started', { hostId: 'h1', elapsedMs: 3 });
      assert.equal(await checkpoints.waitFor(SANDBOX_PROJECTION, started, 15_000), true, 'the sandboxes projection reached the last event');
      const rows = await ds.query(`SELECT id, state, host_id FROM sandboxes`);
      assert.deepEqual(rows, [{ id: 'sb_1', state: 'running', host_id: 'h1' }]);
      await eventually(async () => (await ds.query('SELECT count(*)::int AS n FROM audit_log'))[0].n === 3, 10_000, 'the audit log');
    } finally {
      await checkpoints.stop();
    }
  });

  it('reads the log and publishes nothing else: no append, no command, no stream of its own', async () => {
    const config = { natsUrl: env.natsUrl, natsCredsDir: env.natsCredsDir, natsInsecure: false, namespace: env.namespace };
    const nc = await connect({ ...natsConnectOptions(config, serviceIdentity(ServiceName.Projector)), name: 'test-projector' });
    open.push(nc);
    const refused = async (subject: string) =>
      assert.rejects(
        nc.request(subject, new TextEncoder().encode('{}'), { timeout: 5000 }),
        (error: NatsError) => error.code === 'PERMISSIONS_VIOLATION' && error.message.includes(subject),
        `publish to ${subject} should be refused`,
      );
    await refused(env.naming.eventSubject(Aggregate.Sandbox, 'sb_forged'));
    await refused(env.naming.commandSubject(ServiceName.SandboxScheduler, SchedulerCommand.Destroy));
    await refused(`$JS.API.STREAM.CREATE.${env.naming.stream}`);
    // What it does need: the stream's state (and, in the test above, its durable consumers).
    const info = await (await nc.jetstreamManager()).streams.info(env.naming.stream);
    assert.ok(info.state.last_seq >= 3);
  });

  it('wrenn replay finds no difference, then exactly the tampered row, exits 1 for it, and leaves no scratch schema', async () => {
    const clean = await replay('--json');
    assert.equal(clean.code, 0, clean.err || clean.out);
    const report = JSON.parse(clean.out) as { differences: number; tables: Array<{ table: string }> };
    assert.equal(report.differences, 0);
    assert.ok(report.tables.some((t) => t.table === 'sandboxes'));
    assert.equal(await scratchSchemas(), 0);

    await ds.query(`UPDATE sandboxes SET state = 'paused' WHERE id = 'sb_1'`);
    const tampered = await replay();
    assert.equal(tampered.code, 1, tampered.err || tampered.out);
    const reported = tampered.out.split('\n').filter((line) => /^\s+(missing|extra|different)\s/.test(line));
    assert.deepEqual(reported, ['  different  id="sb_1"  state: live "paused" ≠ log "running"']);
    assert.match(tampered.out, /^sandboxes: 0 missing, 0 extra, 1 different \(by id\)$/m);
    assert.match(tampered.out, /^1 row\(s\) differ from the log/m);
    assert.equal(await scratchSchemas(), 0);
  });
});

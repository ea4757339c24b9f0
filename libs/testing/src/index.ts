import { variable } from '@wrenn/config';
import { naming, Naming } from '@wrenn/contracts';
import { dropDatabase, dropRolesWithPrefix, ensureDatabase } from '@wrenn/db';
import { freeLoopbackPort, hostIdentity, loadAuthority, prepareSecuredNats, RunningNatsServer, startNatsServer, writeCreds } from '@wrenn/nats-auth';
import { connect, credsAuthenticator, NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_NATS_URL = variable('NATS_URL');
const PG_BASE = variable('WRENN_TEST_PG');

/**
 * An isolated slice of the real NATS server and PostgreSQL for one test file: its own WRENN_NS
 * namespace (stream, subjects, KV bucket) and its own database, removed again by `cleanup()`.
 */
export interface TestEnv {
  namespace: string;
  naming: Naming;
  databaseUrl: string;
  natsUrl: string;
  nc: NatsConnection;
  /** Environment for a child process that should live in this slice. */
  env: Record<string, string>;
  /** With `natsAuth`: the directory of every identity's creds, and the server this file runs. */
  natsCredsDir?: string;
  natsServer?: RunningNatsServer;
  /** With `natsAuth`: issues a host agent's creds (as `wrenn host enrol` does) into natsCredsDir. */
  enrolHost(hostId: string): Promise<string>;
  cleanup(): Promise<void>;
}

export interface TestEnvOptions {
  /**
   * Run a nats-server of this file's own, in operator mode with auth on (free loopback port,
   * JetStream, a temp store), with creds for every service; stopped and removed by cleanup().
   * Without it the slice uses the shared open server, as an explicit insecure choice.
   */
  natsAuth?: boolean;
}

/**
 * Starts an authenticated nats-server for one test file. `nc` of the slice connects as a test
 * harness with every permission (it plays whatever the test needs: a host, a client).
 */
async function startAuthNats(names: Naming): Promise<{ server: RunningNatsServer; dir: string; credsDir: string; harnessCreds: string }> {
  const dir = mkdtempSync(join(tmpdir(), `wrenn-nats-${names.namespace}-`));
  const port = await freeLoopbackPort();
  const setup = await prepareSecuredNats(dir, names, { host: '127.0.0.1', port, hostIds: [] });
  const harness = await writeCreds(loadAuthority(dir), { kind: 'service', service: 'admin' }, names, { pub: { allow: ['>'] }, sub: { allow: ['>'] } });
  // The admin creds just written are the harness's; the real admin's go back in place.
  const harnessCreds = join(dir, 'harness.creds');
  renameSync(harness, harnessCreds);
  await writeCreds(loadAuthority(dir), { kind: 'service', service: 'admin' }, names);
  try {
    const server = await startNatsServer(setup.configPath, { host: '127.0.0.1', port, logFile: join(dir, 'nats-server.log') });
    return { server, dir, credsDir: setup.credsDir, harnessCreds };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export async function createTestEnv(label: string, options: TestEnvOptions = {}): Promise<TestEnv> {
  const namespace = `t${label.replace(/[^a-z0-9]/g, '').slice(0, 12)}${randomBytes(4).toString('hex')}`;
  const names = naming(namespace);
  const databaseUrl = `${PG_BASE}/wrenn_${namespace}`;
  await ensureDatabase(databaseUrl);
  const secured = options.natsAuth ? await startAuthNats(names) : undefined;
  const natsUrl = secured?.server.url ?? TEST_NATS_URL;
  const nc = await connect({
    servers: natsUrl,
    name: `wrenn-test-${namespace}`,
    ...(secured ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(secured.harnessCreds))) } : {}),
  });
  const natsEnv: Record<string, string> = secured ? { WRENN_NATS_CREDS_DIR: secured.credsDir } : { WRENN_NATS_INSECURE: '1' };
  return {
    namespace,
    naming: names,
    databaseUrl,
    natsUrl,
    nc,
    // Metrics on any free port: suites (and platforms they start) never contend for the default one.
    env: { WRENN_NS: namespace, DATABASE_URL: databaseUrl, NATS_URL: natsUrl, WRENN_METRICS_PORT: '0', ...natsEnv },
    natsCredsDir: secured?.credsDir,
    natsServer: secured?.server,
    async enrolHost(hostId: string) {
      if (!secured) throw new Error('enrolHost needs a slice made with natsAuth');
      return writeCreds(loadAuthority(secured.dir), hostIdentity(hostId), names);
    },
    async cleanup() {
      if (secured) {
        await nc.close().catch(() => undefined);
        await secured.server.stop();
        rmSync(secured.dir, { recursive: true, force: true });
        await dropDatabase(databaseUrl);
        return;
      }
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(names.stream).catch(() => undefined);
      for (const bucket of [names.hostsBucket, names.secretsBucket, names.publicKeysBucket, names.activityBucket, names.templateNamesBucket]) {
        await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
      }
      await nc.close();
      await dropDatabase(databaseUrl);
      // Roles are the cluster's, not the database's: a platform started in this slice made its own.
      await dropRolesWithPrefix(`${PG_BASE}/postgres`, `wrenn_${namespace}`);
    },
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as T;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `promise`, or a rejection naming `what` when it has not settled within `timeoutMs`: a wait for
 * a signal that may never come fails with a reason instead of hanging the file.
 */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export { FORK_BOMB } from './fork-bomb';

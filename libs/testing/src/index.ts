import { naming, Naming } from '@wrenn/contracts';
import { dropDatabase, dropRolesWithPrefix, ensureDatabase } from '@wrenn/db';
import { connect, NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';

export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const PG_BASE = process.env.WRENN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

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
  cleanup(): Promise<void>;
}

export async function createTestEnv(label: string): Promise<TestEnv> {
  const namespace = `t${label.replace(/[^a-z0-9]/g, '').slice(0, 12)}${randomBytes(4).toString('hex')}`;
  const names = naming(namespace);
  const databaseUrl = `${PG_BASE}/wrenn_${namespace}`;
  await ensureDatabase(databaseUrl);
  const nc = await connect({ servers: TEST_NATS_URL, name: `wrenn-test-${namespace}` });
  return {
    namespace,
    naming: names,
    databaseUrl,
    natsUrl: TEST_NATS_URL,
    nc,
    env: { WRENN_NS: namespace, DATABASE_URL: databaseUrl, NATS_URL: TEST_NATS_URL },
    async cleanup() {
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

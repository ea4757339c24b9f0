import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';

export const REPO = resolve(__dirname, '../../..');
const CLI = join(REPO, 'tools/cli/dist/main.js');

/** A user with their own team, a bearer token and an API key of that team. */
export interface Identity {
  email: string;
  password: string;
  userId: string;
  teamId: string;
  token: string;
  apiKey: string;
  keyId: string;
}

/**
 * How a call authenticates: 'key' (the platform owner's API key, the default), 'bearer' (the
 * owner's token), 'none', or another identity's credentials.
 */
export type Auth = 'key' | 'bearer' | 'none' | { apiKey?: string; token?: string };

export interface Platform {
  env: TestEnv;
  url: string;
  stateDir: string;
  hostId: string;
  childEnv: Record<string, string>;
  process: ChildProcess;
  output: () => string;
  /** Starts the platform again on the same state (after kill()). */
  restart(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
  /** The user, team and API key every call uses unless told otherwise. */
  owner: Identity;
  /** Signs up another user (another team) and gives them a token and an API key. */
  signUp(label?: string): Promise<Identity>;
  /** Headers that authenticate a direct fetch or WebSocket as `auth` (default: the owner's key). */
  authHeaders(auth?: Auth): Record<string, string>;
  api<T = any>(method: string, path: string, body?: unknown, options?: { auth?: Auth; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Headers }>;
  sql<T = any>(query: string, params?: unknown[]): Promise<T[]>;
  /**
   * DELETE of a sandbox, checked (200, `deleting` or already `deleted`), then waits until its host
   * has finished and it is `deleted`: answers that final view and the DELETE's own answer.
   */
  deleteSandbox(id: string, options?: { auth?: Auth }): Promise<{ state: string; accepted: { status: number; body: any } } & Record<string, any>>;
  /** Destroys every sandbox, snapshot and template the host agent holds (teardown of a failed test). */
  releaseHost(): Promise<void>;
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Runs the whole platform (`wrenn start`: every service in one process) as a child process on
 * its own namespace, database and state directory, the way a user runs it — only the ports and
 * names differ so suites never meet.
 */
export interface PlatformOptions {
  /** Services the platform process runs (all by default), e.g. everything but the host agent. */
  services?: string[];
  /** Wait for a live host before answering (default true); false when the host agent runs apart. */
  waitForHost?: boolean;
  /**
   * Run on a nats-server of the suite's own with auth on (what `npm start` runs): every service
   * and the host agent connect with their own creds. Default: the shared open server.
   */
  natsAuth?: boolean;
}

export async function startPlatform(label: string, extraEnv: Record<string, string> = {}, options: PlatformOptions = {}): Promise<Platform> {
  const env = await createTestEnv(label, { natsAuth: options.natsAuth });
  const stateDir = `/tmp/wrenn-${env.namespace}`;
  const hostId = `host-${env.namespace}`;
  if (options.natsAuth) await env.enrolHost(hostId);
  const childEnv: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...env.env,
    PORT: '0',
    WRENN_BIND: '127.0.0.1',
    WRENN_STATE_DIR: stateDir,
    WRENN_IMAGE_DIR: process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images',
    WRENN_HOST_ID: hostId,
    WRENN_HEARTBEAT_MS: '500',
    WRENN_HOST_LEASE_MS: '2000',
    WRENN_REAPER_INTERVAL_MS: '500',
    WRENN_REAPER_PENDING_GRACE_MS: '3000',
    WRENN_REAPER_SETTLE_MS: '1500',
    // Tests poll every 50 ms from one address, past the default request rate (1200 a minute) in
    // a long wait; the rate limits have their own tests (request-rate.int.spec.ts).
    WRENN_RATE_PER_KEY_PER_MIN: '100000',
    WRENN_RATE_PER_ADDRESS_PER_MIN: '100000',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    ...extraEnv,
  };
  let child!: ChildProcess;
  let out = '';
  let url = '';

  const launch = async () => {
    out = '';
    url = '';
    const args = options.services ? [CLI, 'start', '--service', options.services.join(',')] : [CLI, 'start'];
    child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (match) url = match[1];
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    await eventually(() => {
      if (child.exitCode !== null) throw new Error(`platform exited ${child.exitCode}:\n${out.slice(-4000)}`);
      return url;
    }, 120_000, 'the gateway to listen');
    // Ready means a live host: the first start may build the base image.
    if (options.waitForHost !== false) {
      await eventually(async () => (await fetch(`${url}/healthz`)).status === 200, 300_000, 'a healthy platform');
    }
  };
  try {
    await launch();
  } catch (error) {
    // A platform that never came up still gives back its slice (and its NATS server, with auth on).
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await env.cleanup().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }

  /**
   * Destroys whatever the host agent still holds: sandboxes outlive their agent by design, so a
   * test that fails half-way would otherwise leave processes, netns, cgroups and rules behind.
   * Asks the agent itself (the same host commands the platform uses); no agent, nothing to do.
   */
  async function releaseHost(): Promise<void> {
    const ask = async (op: string, payload: object, timeout: number) => {
      const reply = await env.nc.request(env.naming.hostSubject(hostId, op), new TextEncoder().encode(JSON.stringify(payload)), { timeout });
      return JSON.parse(new TextDecoder().decode(reply.data)) as { ok: boolean; value?: { sandboxIds: string[]; pausedIds?: string[] } };
    };
    const listed = await ask('list', {}, 3000);
    const ids = [...(listed.value?.sandboxIds ?? []), ...(listed.value?.pausedIds ?? [])];
    for (const sandboxId of ids) await ask('destroy', { commandId: `test_release_${sandboxId}`, sandboxId }, 60_000).catch(() => undefined);
    // Templates may be layered on each other: newest first, twice over for any left in use.
    const templatesDir = join(stateDir, 'templates');
    for (let pass = 0; pass < 2; pass++) {
      const metas = (await readdir(templatesDir).catch(() => [] as string[]))
        .filter((name) => /^tpl_[0-9a-z]{26}$/.test(name))
        .map((templateId) => JSON.parse(readFileSync(join(templatesDir, templateId, 'meta.json'), 'utf8')) as { templateId: string; name?: string; createdAt: string })
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      for (const meta of metas) {
        await ask('template-delete', { commandId: `test_release_${meta.templateId}`, templateId: meta.templateId, templateName: meta.name ?? 'template' }, 60_000).catch(() => undefined);
      }
    }
  }

  let pg: Client | undefined;
  let signups = 0;
  const platform: Platform = {
    owner: undefined as unknown as Identity,
    env,
    get url() { return url; },
    stateDir,
    hostId,
    childEnv,
    get process() { return child; },
    output: () => out,
    restart: launch,
    releaseHost,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      // A graceful stop that hangs is a bug the test should see, not wait on forever.
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      if (signal === 'SIGTERM' && child.signalCode === 'SIGKILL') throw new Error(`the platform did not stop on SIGTERM:\n${out.slice(-3000)}`);
    },
    async stop() {
      // A stop that fails still releases the slice, so the suite reports and exits.
      try {
        await releaseHost().catch(() => undefined);
        await platform.kill('SIGTERM');
      } finally {
        await pg?.end().catch(() => undefined);
        await env.cleanup();
        await rm(stateDir, { recursive: true, force: true });
      }
    },
    authHeaders(auth = 'key') {
      if (auth === 'none') return {};
      if (auth === 'key') return { 'x-api-key': platform.owner.apiKey };
      if (auth === 'bearer') return { authorization: `Bearer ${platform.owner.token}` };
      return {
        ...(auth.apiKey !== undefined ? { 'x-api-key': auth.apiKey } : {}),
        ...(auth.token !== undefined ? { authorization: `Bearer ${auth.token}` } : {}),
      };
    },
    async api(method, path, body, options = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...platform.authHeaders(options.auth),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: any = text;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { /* leave as text */ }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async signUp(label = `user${++signups}`) {
      const email = `${label}-${randomBytes(4).toString('hex')}@${env.namespace}.test`;
      const password = randomBytes(18).toString('base64url');
      const expect = (what: string, res: { status: number; body: any }, status: number) => {
        if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${JSON.stringify(res.body)}`);
        return res.body;
      };
      expect('signup', await platform.api('POST', '/v1/auth/signup', { email, password }, { auth: 'none' }), 202);
      const login = expect('login', await platform.api('POST', '/v1/auth/login', { email, password }, { auth: 'none' }), 200);
      const key = expect('api key', await platform.api('POST', '/v1/api-keys', { name: label }, { auth: { token: login.token } }), 201);
      return { email, password, userId: login.user_id, teamId: login.team_id, token: login.token, apiKey: key.key, keyId: key.id };
    },
    async deleteSandbox(id, options = {}) {
      const accepted = await platform.api('DELETE', `/v1/sandboxes/${id}`, undefined, options);
      if (accepted.status !== 200 || !['deleting', 'deleted'].includes(accepted.body?.state)) {
        throw new Error(`DELETE of ${id} answered ${accepted.status}: ${JSON.stringify(accepted.body)}`);
      }
      const final = await eventually(async () => {
        const got = await platform.api('GET', `/v1/sandboxes/${id}`, undefined, options);
        return got.body?.state === 'deleted' ? got.body : undefined;
      }, 60_000, `${id} to be deleted`);
      return { ...final, accepted };
    },
    async sql(query, params = []) {
      if (!pg) {
        pg = new Client({ connectionString: env.databaseUrl });
        await pg.connect();
      }
      return (await pg.query(query, params)).rows;
    },
    cli(...args) {
      return new Promise((resolveRun) => {
        const p = spawn(process.execPath, [CLI, ...args], { env: childEnv });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('exit', (code) => resolveRun({ code: code ?? 1, stdout, stderr }));
      });
    },
  };
  platform.owner = await platform.signUp('owner');
  return platform;
}

import { Aggregate } from '@wrenn/contracts';
import { EventMetadata, EventStore } from '@wrenn/eventlog';
import { RunningService } from '@wrenn/service-kit';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { request } from 'node:http';
import { bootstrapGateway, RunningGateway } from '@wrenn/gateway';

/** The identity events a signup and a key creation leave in the log for the new team. */
const IDENTITY_EVENTS = new Set(['user.signed_up', 'team.created', 'team.member_added', 'api_key.created']);

/**
 * The real gateway (Nest app, HTTP server) and the real auth service in this process, on a test
 * slice of NATS and PostgreSQL, with an event store whose clock the test sets. A user signs up
 * and makes an API key through the gateway, as anyone would; every call the harness makes
 * carries that key, and events appended here belong to that user's team unless told otherwise.
 */
export interface GatewayHarness {
  env: TestEnv;
  store: EventStore;
  gateway: RunningGateway;
  /** The signed-up user's team, the one the API key acts for. */
  teamId: string;
  apiKey: string;
  /** Stream sequences of the identity events signup and key creation left for the team, in order. */
  identitySeqs: number[];
  /** Headers that authenticate as the team (for clients other than getJson). */
  authHeaders(): Record<string, string>;
  append(at: string, aggregate: Aggregate | string, id: string, type: string, data: object, meta?: Partial<EventMetadata>): Promise<number>;
  /** GET with the team's API key, unless `auth` is false. */
  getJson(path: string, headers?: Record<string, string>, auth?: boolean): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

function call(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, { method, headers: payload ? { ...headers, 'content-type': 'application/json' } : headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectStatus(what: string, pending: Promise<{ status: number; body: any }>, status: number): Promise<any> {
  const res = await pending;
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function startGateway(label: string, extraEnv: Record<string, string> = {}): Promise<GatewayHarness> {
  const env = await createTestEnv(label);
  Object.assign(process.env, env.env, extraEnv);
  let now = new Date();
  const store = await EventStore.create(env.nc, env.naming, () => now);
  await store.ensureStream();
  // Subjects are resolved when the auth module loads, so it loads after the namespace is set.
  const { bootstrapAuth } = await import('@wrenn/auth');
  let auth: RunningService | undefined;
  let gateway: RunningGateway | undefined;
  try {
    auth = await bootstrapAuth();
    gateway = await bootstrapGateway({ port: 0, host: '127.0.0.1' });
    const url = gateway.url;
    const credentials = { email: `${label}@example.com`, password: 'a long enough password' };
    await expectStatus('signup', call('POST', `${url}/v1/auth/signup`, {}, credentials), 202);
    const login = await expectStatus('login', call('POST', `${url}/v1/auth/login`, {}, credentials), 200);
    const key = await expectStatus('api key', call('POST', `${url}/v1/api-keys`, { authorization: `Bearer ${login.token}` }, { name: label }), 201);
    const teamId: string = login.team_id;
    // The auth service relays identity events from its outbox after commit: wait for them, so
    // tests that count the team's events see them all before they start.
    const identitySeqs = await eventually(async () => {
      const seqs: number[] = [];
      let keyCreated = false;
      await store.read({}, (event) => {
        if (event.teamId !== teamId || !IDENTITY_EVENTS.has(event.type)) return;
        seqs.push(event.seq);
        keyCreated ||= event.type === 'api_key.created';
      });
      return keyCreated ? seqs : undefined;
    }, 15_000, 'the identity events of the signup');

    const versions = new Map<string, number>();
    const running = gateway;
    const authHeaders = () => ({ 'x-api-key': key.key as string });
    let closed = false;
    return {
      env,
      store,
      gateway: running,
      teamId,
      apiKey: key.key,
      identitySeqs,
      authHeaders,
      async append(at, aggregate, id, type, data, meta = {}) {
        now = new Date(at);
        const k = `${aggregate}.${id}`;
        const full: EventMetadata = {
          correlationId: meta.correlationId ?? `corr_${id}`,
          causationId: meta.causationId ?? `cause_${type}_${versions.get(k) ?? 0}`,
          actor: meta.actor ?? { kind: 'user', id: 'usr_1' },
          teamId: meta.teamId ?? teamId,
        };
        const result = await store.append(aggregate as Aggregate, id, [{ type, data }], full, versions.get(k) ?? 0);
        versions.set(k, result.seq);
        return result.seq;
      },
      getJson(path, headers = {}, withKey = true) {
        return call('GET', `${running.url}${path}`, withKey ? { ...authHeaders(), ...headers } : headers);
      },
      async close() {
        if (closed) return;
        closed = true;
        try {
          await running.close();
          await auth?.close();
        } finally {
          await env.cleanup();
        }
      },
    };
  } catch (error) {
    await gateway?.close().catch(() => undefined);
    await auth?.close().catch(() => undefined);
    await env.cleanup();
    throw error;
  }
}

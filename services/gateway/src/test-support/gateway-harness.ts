import { Aggregate } from '@wrenn/contracts';
import { EventMetadata, EventStore } from '@wrenn/eventlog';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { request } from 'node:http';
import { bootstrapGateway, RunningGateway } from '../bootstrap';

/**
 * The real gateway (Nest app, HTTP server) in this process, on a test slice of NATS and
 * PostgreSQL, with an event store whose clock the test sets.
 */
export interface GatewayHarness {
  env: TestEnv;
  store: EventStore;
  gateway: RunningGateway;
  append(at: string, aggregate: Aggregate | string, id: string, type: string, data: object, meta?: Partial<EventMetadata>): Promise<number>;
  getJson(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startGateway(label: string, extraEnv: Record<string, string> = {}): Promise<GatewayHarness> {
  const env = await createTestEnv(label);
  Object.assign(process.env, env.env, extraEnv);
  let now = new Date();
  const store = await EventStore.create(env.nc, env.naming, () => now);
  await store.ensureStream();
  const gateway = await bootstrapGateway({ port: 0, host: '127.0.0.1' });
  const versions = new Map<string, number>();
  let closed = false;
  return {
    env,
    store,
    gateway,
    async append(at, aggregate, id, type, data, meta = {}) {
      now = new Date(at);
      const key = `${aggregate}.${id}`;
      const full: EventMetadata = {
        correlationId: meta.correlationId ?? `corr_${id}`,
        causationId: meta.causationId ?? `cause_${type}_${versions.get(key) ?? 0}`,
        actor: meta.actor ?? { kind: 'user', id: 'usr_1' },
        teamId: meta.teamId ?? 'team_default',
      };
      const result = await store.append(aggregate as Aggregate, id, [{ type, data }], full, versions.get(key) ?? 0);
      versions.set(key, result.seq);
      return result.seq;
    },
    getJson(path, headers = {}) {
      return new Promise((resolve, reject) => {
        const req = request(`${gateway.url}${path}`, { headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
          });
        });
        req.on('error', reject);
        req.end();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await gateway.close();
      await env.cleanup();
    },
  };
}

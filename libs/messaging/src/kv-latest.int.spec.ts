import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, NatsConnection } from 'nats';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { kvLatest } from './kv-latest';

/**
 * The hosts bucket as the reaper and /healthz read it: every live key, every time, while several
 * writers on their own connections keep updating theirs (as host agents beat).
 */
describe('kvLatest', () => {
  let env: TestEnv;
  const writers: NatsConnection[] = [];
  before(async () => {
    env = await createTestEnv('kvlatest');
  });
  after(async () => {
    for (const nc of writers) await nc.close();
    await env.cleanup();
  });

  it('lists every key while three writers update theirs, and leaves deleted keys out', async () => {
    const bucket = env.naming.hostsBucket;
    await env.nc.jetstream().views.kv(bucket, { history: 1 });
    const timers: NodeJS.Timeout[] = [];
    for (const key of ['host-a', 'host-b', 'host-c']) {
      const nc = await connect({ servers: env.natsUrl });
      writers.push(nc);
      const kv = await nc.jetstream().views.kv(bucket, { history: 1 });
      await kv.put(key, JSON.stringify({ hostId: key, at: Date.now() }));
      timers.push(setInterval(() => void kv.put(key, JSON.stringify({ hostId: key, at: Date.now() })).catch(() => undefined), 15));
    }
    try {
      // Bounded: 40 reads while the writers run.
      for (let i = 0; i < 40; i++) {
        const keys = (await kvLatest(env.nc, bucket)).map((e) => e.key).sort();
        assert.deepEqual(keys, ['host-a', 'host-b', 'host-c'], `read ${i}`);
      }
    } finally {
      for (const t of timers) clearInterval(t);
    }
    const kv = await env.nc.jetstream().views.kv(bucket);
    await kv.delete('host-b');
    const left = await kvLatest(env.nc, bucket);
    assert.deepEqual(left.map((e) => e.key).sort(), ['host-a', 'host-c']);
    assert.equal(left.find((e) => e.key === 'host-a')!.json<{ hostId: string }>().hostId, 'host-a');
  });
});

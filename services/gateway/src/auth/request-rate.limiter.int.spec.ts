import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDataSource, RateWindowRepository } from '@wrenn/db';
import { DataSource } from 'typeorm';
import { bootstrapGateway, RunningGateway } from '../bootstrap';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';
import { BatchedRateCounter } from './batched-rate.counter';
import { RequestRateLimiter } from './request-rate.limiter';

/**
 * The per-key and per-address request rate of every authenticated call, through the real gateway
 * and auth service on a real PostgreSQL, with a second gateway replica beside the first. Each
 * replica counts in memory and exchanges its counts with PostgreSQL in batches; here the timer
 * is set far off and the test flushes by hand, so what each replica knows is decided by the test.
 */
describe('request rate per key and per address', () => {
  let h: GatewayHarness;
  let replica: RunningGateway;
  let ds: DataSource;

  before(async () => {
    h = await startGateway('rate', { WRENN_RATE_PER_KEY_PER_MIN: '5', WRENN_RATE_PER_ADDRESS_PER_MIN: '9', WRENN_TRUST_PROXY: '', WRENN_RATE_FLUSH_MS: '3600000' });
    replica = await bootstrapGateway({ port: 0, host: '127.0.0.1' });
    ds = createDataSource(h.env.databaseUrl);
    await ds.initialize();
  });
  after(async () => {
    await ds?.destroy();
    await replica?.close();
    await h?.close();
  });

  const flush = (g: RunningGateway) => g.app.get(RequestRateLimiter).flush();
  const get = async (base: string, headers: Record<string, string>, forwardedFor: string) => {
    const res = await fetch(`${base}/v1/sandboxes`, { headers: { ...headers, 'x-forwarded-for': forwardedFor } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error?: { code: string; details?: { retry_after_sec?: number } } } };
  };

  it('refuses a key past its budget with 429 rate_limited and Retry-After, counting both replicas, and then its address', async () => {
    // The harness created its key with a user token: one call of this address so far, on the first replica.
    const statuses: number[] = [];
    // A new X-Forwarded-For each time: not trusted, so it escapes nothing.
    for (let i = 0; i < 3; i++) statuses.push((await get(h.gateway.url, h.authHeaders(), `10.0.0.${i}`)).status);
    await flush(h.gateway);
    // The replica has not seen this key or address: it reads their shared counts first.
    for (let i = 3; i < 5; i++) statuses.push((await get(replica.url, h.authHeaders(), `10.0.0.${i}`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    const refused = await get(replica.url, h.authHeaders(), '10.0.0.99');
    assert.equal(refused.status, 429, 'the 6th call of the key, 3 of them on the other replica');
    assert.equal(refused.body.error?.code, 'rate_limited');
    const wait = Number(refused.retryAfter);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After: ${refused.retryAfter}`);
    assert.equal(refused.body.error?.details?.retry_after_sec, wait);

    // Both replicas exchange: the first now knows the replica's calls too.
    await flush(replica);
    await flush(h.gateway);
    const [row] = await ds.query(`SELECT current, previous FROM request_rate_windows WHERE bucket = 'addr:::ffff:127.0.0.1' OR bucket = 'addr:127.0.0.1'`);
    assert.ok(row && Number(row.current) + Number(row.previous) >= 7, `the address's shared count: ${JSON.stringify(row)}`);

    // Another key of the same team from the same address: its own budget is untouched, but the
    // address has had 1 + 6 calls, and creating the key is the 8th.
    const login = await fetch(`${h.gateway.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'rate@example.com', password: 'a long enough password' }) });
    const { token } = (await login.json()) as { token: string };
    const made = await fetch(`${h.gateway.url}/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'second' }) });
    assert.equal(made.status, 201);
    const second = { 'x-api-key': ((await made.json()) as { key: string }).key };
    assert.equal((await get(h.gateway.url, second, '10.1.0.1')).status, 200, 'the 9th call of the address');
    await flush(h.gateway);
    await flush(replica);
    const byAddress = await get(replica.url, second, '10.1.0.2');
    assert.equal(byAddress.status, 429, 'the 10th call of the address, the second call of its key, on the other replica');
    assert.equal(byAddress.body.error?.code, 'rate_limited');
  });

  describe(BatchedRateCounter.name, () => {
    let n = 0;
    const fresh = () => `test:${process.pid}:${++n}`;
    const counter = (windowSec: number, flushMs = 0) => new BatchedRateCounter(new RateWindowRepository(ds, 'request_rate_windows'), { windowSec, flushMs });
    const shared = async (bucket: string) => {
      const [row] = await ds.query('SELECT current, previous FROM request_rate_windows WHERE bucket = $1', [bucket]);
      return row ? Number(row.current) + Number(row.previous) : undefined;
    };
    const hits = async (c: BatchedRateCounter, bucket: string, max: number, times: number) => {
      const answers: number[] = [];
      for (let i = 0; i < times; i++) answers.push(await c.hit([{ bucket, max }]));
      return answers;
    };

    it('lets two replicas take at most their calls of one flush interval past a budget, then refuses on both', async () => {
      const bucket = fresh();
      const [a, b] = [counter(60), counter(60)];
      // Both read the bucket before anyone counted: neither knows of the other's calls until they exchange.
      const before = [...(await hits(a, bucket, 10, 6)), ...(await hits(b, bucket, 10, 6))];
      assert.equal(before.filter((r) => r === 0).length, 12, 'within one interval each replica judges on its own calls');
      await a.flush();
      await b.flush();
      assert.equal(await shared(bucket), 12, 'one exchange each adds every call');
      await a.flush();
      assert.ok((await a.hit([{ bucket, max: 10 }])) > 0, 'the first replica refuses once it has read the other’s calls');
      assert.ok((await b.hit([{ bucket, max: 10 }])) > 0, 'and so does the second');
      await Promise.all([a.close(), b.close()]);
      assert.equal(await shared(bucket), 14, 'refused calls count too, and close sends them');
    });

    it('exchanges on its own timer', async () => {
      const bucket = fresh();
      const c = counter(60, 20);
      await hits(c, bucket, 100, 3);
      const seen = await (async () => {
        for (let i = 0; i < 500; i++) {
          if ((await shared(bucket)) === 3) return true;
          await sleep(20);
        }
        return false;
      })();
      await c.close();
      assert.ok(seen, 'the three calls reached PostgreSQL without a flush by hand');
    });

    it('slides its window: refused past the budget, allowed again once the window has moved on', async () => {
      const bucket = fresh();
      const c = counter(2);
      assert.deepEqual(await hits(c, bucket, 3, 3), [0, 0, 0]);
      await c.flush();
      const retry = await c.hit([{ bucket, max: 3 }]);
      assert.ok(retry >= 1 && retry <= 2, `retry after ${retry} s in a 2 s window`);
      await c.flush();
      // Two whole windows later nothing counts any more, by PostgreSQL's windows and by the slide in memory.
      await sleep(4_200);
      assert.equal(await c.hit([{ bucket, max: 3 }]), 0);
      await c.flush();
      assert.equal(await shared(bucket), 1, 'the new window holds only the new call');
      await c.close();
    });

    it('drops quiet buckets from memory and the sweep deletes them from PostgreSQL', async () => {
      const bucket = fresh();
      const c = counter(1);
      await c.hit([{ bucket, max: 5 }]);
      await c.flush();
      assert.equal(c.size, 1);
      assert.equal(await shared(bucket), 1);
      await sleep(2_300);
      await c.flush();
      assert.equal(c.size, 0, 'quiet for two windows: forgotten here');
      await new RateWindowRepository(ds, 'request_rate_windows').sweep();
      assert.equal(await shared(bucket), undefined, 'and swept from the table');
      await c.close();
    });

    it('counts nothing for a budget of 0 (off)', async () => {
      const bucket = fresh();
      const c = counter(60);
      assert.deepEqual(await hits(c, bucket, 0, 3), [0, 0, 0]);
      await c.close();
      assert.equal(await shared(bucket), undefined);
    });
  });
});

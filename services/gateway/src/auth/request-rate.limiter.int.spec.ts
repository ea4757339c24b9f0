import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapGateway, RunningGateway } from '../bootstrap';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';

/**
 * The per-key and per-address request rate of every authenticated call, through the real gateway
 * and auth service on a real PostgreSQL, with a second gateway replica beside the first.
 */
describe('request rate per key and per address', () => {
  let h: GatewayHarness;
  let replica: RunningGateway;

  before(async () => {
    h = await startGateway('rate', { WRENN_RATE_PER_KEY_PER_MIN: '5', WRENN_RATE_PER_ADDRESS_PER_MIN: '9', WRENN_TRUST_PROXY: '' });
    replica = await bootstrapGateway({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await replica?.close();
    await h?.close();
  });

  const get = async (base: string, headers: Record<string, string>, forwardedFor: string) => {
    const res = await fetch(`${base}/v1/sandboxes`, { headers: { ...headers, 'x-forwarded-for': forwardedFor } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error?: { code: string; details?: { retry_after_sec?: number } } } };
  };

  it('refuses a key past its budget on either replica with 429 rate_limited and Retry-After, and then its address', async () => {
    // The harness created its key with a user token: one call of this address so far.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      // Alternating replicas and a new X-Forwarded-For each time: neither escapes the count.
      const r = await get(i % 2 ? replica.url : h.gateway.url, h.authHeaders(), `10.0.0.${i}`);
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    const refused = await get(replica.url, h.authHeaders(), '10.0.0.99');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error?.code, 'rate_limited');
    const wait = Number(refused.retryAfter);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After: ${refused.retryAfter}`);
    assert.equal(refused.body.error?.details?.retry_after_sec, wait);

    // Another key of the same team from the same address: its own budget is untouched, but the
    // address has had 1 + 6 calls, and creating the key is the 8th.
    const login = await fetch(`${h.gateway.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'rate@example.com', password: 'a long enough password' }) });
    const { token } = (await login.json()) as { token: string };
    const made = await fetch(`${h.gateway.url}/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'second' }) });
    assert.equal(made.status, 201);
    const second = { 'x-api-key': ((await made.json()) as { key: string }).key };
    assert.equal((await get(h.gateway.url, second, '10.1.0.1')).status, 200, 'the 9th call of the address');
    const byAddress = await get(replica.url, second, '10.1.0.2');
    assert.equal(byAddress.status, 429, 'the 10th call of the address, the second call of its key');
    assert.equal(byAddress.body.error?.code, 'rate_limited');
  });
});

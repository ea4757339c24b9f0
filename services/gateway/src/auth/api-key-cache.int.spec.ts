import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuthCommand, ServiceName } from '@wrenn/contracts';
import { NATS } from '@wrenn/service-kit';
import { eventually } from '@wrenn/testing';
import { NatsConnection, Subscription } from 'nats';
import { bootstrapGateway, RunningGateway } from '../bootstrap';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';
import { ApiKeyCache } from './api-key.cache';

/**
 * The gateway's cache of verified API keys, through two real gateway replicas and the real auth
 * service on real NATS and PostgreSQL. The TTL is an hour, so anything refused below was refused
 * by an eviction, never by the TTL running out.
 */
describe('API key verdicts cached in the gateway', () => {
  let h: GatewayHarness;
  let replica: RunningGateway;
  let token: string;
  let verifies = 0;
  let counting: Subscription;

  const login = async () => {
    const res = await fetch(`${h.gateway.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'keycache@example.com', password: 'a long enough password' }) });
    return ((await res.json()) as { token: string }).token;
  };
  const makeKey = async (name: string, extra: object = {}) => {
    const res = await fetch(`${h.gateway.url}/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, ...extra }) });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string; key: string };
  };
  const revoke = async (id: string) => {
    const res = await fetch(`${h.gateway.url}/v1/api-keys/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  };
  const status = async (g: RunningGateway, key: string) => (await fetch(`${g.url}/v1/sandboxes`, { headers: { 'x-api-key': key } })).status;
  const code = async (g: RunningGateway, key: string) => ((await (await fetch(`${g.url}/v1/sandboxes`, { headers: { 'x-api-key': key } })).json()) as { error?: { code: string } }).error?.code;

  before(async () => {
    h = await startGateway('keycache', { WRENN_API_KEY_CACHE_TTL_MS: '3600000' });
    replica = await bootstrapGateway({ port: 0, host: '127.0.0.1' });
    token = await login();
    // Every verification either replica asks the auth service for passes by this subject.
    counting = h.env.nc.subscribe(h.env.naming.commandSubject(ServiceName.Auth, AuthCommand.VerifyApiKey), { callback: () => verifies++ });
    await h.env.nc.flush();
  });
  after(async () => {
    counting?.unsubscribe();
    await replica?.close();
    await h?.close();
  });

  it('asks the auth service once per replica for a steady caller', async () => {
    const { key } = await makeKey('steady');
    const start = verifies;
    for (let i = 0; i < 5; i++) assert.equal(await status(h.gateway, key), 200);
    for (let i = 0; i < 5; i++) assert.equal(await status(replica, key), 200);
    await h.env.nc.flush();
    assert.equal(verifies - start, 2);
  });

  it('refuses a revoked key on the next call through the revoking gateway, and on the other replica once the broadcast lands', async () => {
    const { id, key } = await makeKey('revoked');
    assert.equal(await status(h.gateway, key), 200);
    assert.equal(await status(replica, key), 200);
    await revoke(id);
    assert.equal(await status(h.gateway, key), 401, 'the very next call through the gateway that revoked it');
    // The replica only hears of it on NATS; with an hour's TTL, only the broadcast can refuse it.
    await eventually(async () => (await status(replica, key)) === 401, 5_000, 'the replica refusing the revoked key');
  });

  it('refuses a cached key once it expires, whatever the TTL', async () => {
    const { key } = await makeKey('expiring', { expires_at: new Date(Date.now() + 1_500).toISOString() });
    assert.equal(await status(h.gateway, key), 200);
    await eventually(async () => (await code(h.gateway, key)) === 'key_expired', 10_000, 'the expired key refused');
  });

  it('clears its cache when its NATS connection reconnects, so a missed revocation cannot keep a key alive', async () => {
    const { key } = await makeKey('reconnect');
    assert.equal(await status(replica, key), 200);
    const cache = replica.app.get(ApiKeyCache);
    assert.ok(cache.size > 0);
    const nc = replica.app.get<NatsConnection>(NATS);
    const reconnected = (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') return;
    })();
    await nc.reconnect();
    await reconnected;
    assert.equal(cache.size, 0, 'everything held before the gap is gone');
    await h.env.nc.flush();
    const start = verifies;
    assert.equal(await status(replica, key), 200);
    assert.equal(await status(replica, key), 200);
    await h.env.nc.flush();
    assert.equal(verifies - start, 1, 'asked again once, then cached again');
  });

  it('asks on every call and still refuses a revoked key at once with the cache off', async () => {
    const saved = process.env.WRENN_API_KEY_CACHE_TTL_MS;
    process.env.WRENN_API_KEY_CACHE_TTL_MS = '0';
    const uncached = await bootstrapGateway({ port: 0, host: '127.0.0.1' }).finally(() => (process.env.WRENN_API_KEY_CACHE_TTL_MS = saved));
    try {
      const { id, key } = await makeKey('uncached');
      const start = verifies;
      for (let i = 0; i < 3; i++) assert.equal(await status(uncached, key), 200);
      await h.env.nc.flush();
      assert.equal(verifies - start, 3);
      await revoke(id);
      assert.equal(await status(uncached, key), 401);
    } finally {
      await uncached.close();
    }
  });
});

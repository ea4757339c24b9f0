import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '@wrenn/testing';
import { WebSocket } from 'ws';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';

async function call(h: GatewayHarness, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(`${h.gateway.url}${path}`, { method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** API key scopes and expiry, and whose address the limits count, through the real gateway and auth service. */
describe('edge limits and key scopes', () => {
  let h: GatewayHarness;
  let token: string;

  before(async () => {
    h = await startGateway('edge', { WRENN_LOGIN_MAX_PER_ADDRESS: '5', WRENN_TRUST_PROXY: '', WRENN_MAX_STREAMS_PER_KEY: '2' });
    const login = await call(h, 'POST', '/v1/auth/login', {}, { email: 'edge@example.com', password: 'a long enough password' });
    token = login.body.token;
  });
  after(async () => {
    await h?.close();
  });

  const key = async (options: object) => {
    const made = await call(h, 'POST', '/v1/api-keys', { authorization: `Bearer ${token}` }, { name: 'scoped', ...options });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return made.body;
  };

  it('lets a read_only key read and nothing else: 403 forbidden for a create and for the exec stream', async () => {
    const ro = await key({ scope: 'read_only' });
    assert.equal(ro.scope, 'read_only');
    assert.equal((await call(h, 'GET', '/v1/sandboxes', { 'x-api-key': ro.key })).status, 200);
    const refused = await call(h, 'POST', '/v1/sandboxes', { 'x-api-key': ro.key }, { memory_mb: 128 });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'forbidden');
    assert.equal(refused.body.error.details.scope, 'read_only');
    const ws = new WebSocket(`${h.gateway.url.replace('http', 'ws')}/v1/sandboxes/sb_x/exec/stream`, { headers: { 'x-api-key': ro.key } });
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 403);
  });

  it('keeps a sandbox key to sandbox calls: 403 forbidden for the team’s audit and usage', async () => {
    const sb = await key({ scope: 'sandbox' });
    assert.equal((await call(h, 'GET', '/v1/sandboxes', { 'x-api-key': sb.key })).status, 200);
    for (const path of ['/v1/audit', '/v1/usage', '/v1/quotas']) {
      const refused = await call(h, 'GET', path, { 'x-api-key': sb.key });
      assert.equal(refused.status, 403, path);
      assert.equal(refused.body.error.code, 'forbidden');
    }
    // A full key (the default) is not narrowed.
    assert.equal((await call(h, 'GET', '/v1/audit', { 'x-api-key': h.apiKey })).status, 200);
  });

  it('refuses a key after its expires_at with 401 key_expired, and refuses an expiry in the past', async () => {
    const soon = await key({ expires_at: new Date(Date.now() + 1500).toISOString() });
    assert.equal((await call(h, 'GET', '/v1/sandboxes', { 'x-api-key': soon.key })).status, 200);
    const expired = await eventually(async () => {
      const res = await call(h, 'GET', '/v1/sandboxes', { 'x-api-key': soon.key });
      return res.status === 401 ? res : undefined;
    }, 10_000, 'the key to expire');
    assert.equal(expired.body.error.code, 'key_expired');
    const past = await call(h, 'POST', '/v1/api-keys', { authorization: `Bearer ${token}` }, { expires_at: new Date(Date.now() - 1000).toISOString() });
    assert.equal(past.status, 400);
  });

  it('counts logins under the socket’s address: X-Forwarded-For is ignored unless proxies are trusted', async () => {
    // The harness and this suite logged in once each from this address; three more fill the budget of five.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await call(h, 'POST', '/v1/auth/login', { 'x-forwarded-for': `203.0.113.${i}` }, { email: `nobody${i}@example.com`, password: 'wrong password' });
      statuses.push(res.status);
    }
    // Then 429s, whatever address the header claims.
    assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429]);
  });

  it('refuses a third concurrent stream of one key with 429 too_many_streams, and takes one again once a stream closes', async () => {
    const open = async () => {
      const abort = new AbortController();
      const res = await fetch(`${h.gateway.url}/v1/events`, { headers: h.authHeaders(), signal: abort.signal });
      return { res, abort };
    };
    const a = await open();
    const b = await open();
    assert.deepEqual([a.res.status, b.res.status], [200, 200]);
    const c = await open();
    assert.equal(c.res.status, 429);
    assert.equal(((await c.res.json()) as { error: { code: string } }).error.code, 'too_many_streams');
    a.abort.abort();
    const d = await eventually(async () => {
      const next = await open();
      if (next.res.status === 200) return next;
      await next.res.body?.cancel();
      return undefined;
    }, 10_000, 'a stream slot to free up');
    d.abort.abort();
    b.abort.abort();
  });

  it('counts exec streams with event streams: a key at its cap of 2 gets a plain 429 too_many_streams for the next exec upgrade', async () => {
    const url = `${h.gateway.url.replace('http', 'ws')}/v1/sandboxes/sb_x/exec/stream`;
    /** Opens an exec WebSocket; resolves with the socket, or with the HTTP answer that refused it. */
    const exec = () =>
      new Promise<{ ws?: WebSocket; status?: number; body?: string }>((resolve, reject) => {
        const ws = new WebSocket(url, { headers: h.authHeaders() });
        ws.once('open', () => resolve({ ws }));
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        ws.once('error', reject);
      });
    const events = new AbortController();
    const sockets: WebSocket[] = [];
    const held = async () => {
      const r = await exec();
      if (r.ws) sockets.push(r.ws);
      return r;
    };
    try {
      // The test before closed its streams from the client side; the gateway frees their slots
      // when it notices, which a call that costs no auth round trip can beat.
      const sse = await eventually(async () => {
        const res = await fetch(`${h.gateway.url}/v1/events`, { headers: h.authHeaders(), signal: events.signal });
        if (res.status === 200) return res;
        await res.body?.cancel();
        return undefined;
      }, 10_000, "the previous test's stream slots to be released");
      assert.equal(sse.status, 200);
      const first = await held();
      assert.ok(first.ws, `the first exec stream opened (${first.status} ${first.body})`);
      const refused = await held();
      assert.equal(refused.status, 429);
      assert.equal(JSON.parse(refused.body!).error.code, 'too_many_streams');
      // An event stream is refused too while the exec stream holds the other slot.
      const third = await fetch(`${h.gateway.url}/v1/events`, { headers: h.authHeaders() });
      assert.equal(third.status, 429);
      await third.body?.cancel();
      first.ws!.close();
      await eventually(async () => (await held()).ws, 10_000, "the exec stream's slot to free up");
    } finally {
      for (const ws of sockets) ws.terminate();
      events.abort();
    }
  });
});

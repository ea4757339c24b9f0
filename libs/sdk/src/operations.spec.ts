import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { WrennClient } from './client';
import { WrennApiError } from './errors';
import { OPERATIONS, operationKey } from './operations';

const OPENAPI = resolve(__dirname, '../../../services/gateway/openapi.yaml');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/**
 * E2B's REST API under /e2b is served for E2B's own SDKs (docs/e2b-compat.md); this SDK speaks
 * Wrenn's /v1 API, so those operations, should they be documented, are not its to cover.
 */
const E2B_COMPAT = /^\/e2b(\/|$)/;

function documentedOperations(): Array<{ key: string; operationId?: string; deprecated: boolean }> {
  const doc = parse(readFileSync(OPENAPI, 'utf8'));
  const out: Array<{ key: string; operationId?: string; deprecated: boolean }> = [];
  for (const [path, item] of Object.entries<Record<string, { operationId?: string; deprecated?: boolean }>>(doc.paths)) {
    if (E2B_COMPAT.test(path)) continue;
    for (const method of METHODS) if (item[method]) out.push({ key: operationKey(method, path), operationId: item[method].operationId, deprecated: item[method].deprecated === true });
  }
  return out;
}

describe('the SDK against the OpenAPI document', () => {
  const sdkKeys = new Map(Object.entries(OPERATIONS).map(([id, op]) => [operationKey(op.method, op.path), id]));

  // A deprecated operation has no method of its own: the SDK's old names call its successor.
  it('has a method for every documented operation that is not deprecated, and none for a deprecated one', () => {
    const documented = documentedOperations();
    assert.ok(documented.length >= 20, `the document lists ${documented.length} operations`);
    const missing = documented.filter((op) => !op.deprecated && !sdkKeys.has(op.key)).map((op) => `${op.key} (${op.operationId})`);
    assert.deepEqual(missing, [], `documented operations without an SDK method: ${missing.join(', ')}`);
    const deprecated = documented.filter((op) => op.deprecated);
    assert.deepEqual(deprecated.map((op) => op.operationId).sort(), ['createSnapshot', 'deleteSnapshot', 'listSnapshots']);
    assert.deepEqual(deprecated.filter((op) => sdkKeys.has(op.key)).map((op) => op.key), []);
  });

  // Matched by method and path, not operationId: ids are the document's to choose.
  it('maps each operation to a method the client really has', () => {
    for (const [id, op] of Object.entries(OPERATIONS)) {
      assert.equal(typeof (WrennClient.prototype as unknown as Record<string, unknown>)[op.sdk], 'function', `${id} → ${op.sdk}`);
    }
    assert.equal(sdkKeys.size, Object.keys(OPERATIONS).length, 'two SDK entries claim the same method and path');
  });
});

/** What a sample call sent, as the server saw it. */
interface Seen {
  method: string;
  path: string;
  query: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

describe('each SDK method sends its operation', () => {
  let server: Server;
  let seen: Seen[] = [];
  let client: WrennClient;
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        seen.push({ method: req.method ?? '', path: url.pathname, query: url.search, headers: req.headers, body: Buffer.concat(chunks) });
        if (url.pathname === '/v1/events') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(': heartbeat\n\nid: 7\nevent: sandbox.started\ndata: {"seq":7,"type":"sandbox.started",\ndata: "data":{}}\n\n');
        } else if (url.pathname === '/v1/sandboxes/sb_0123456789abcdefghijklmnop/files' && req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end('bytes');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(url.pathname === '/v1/auth/login' ? '{"token":"tok"}' : url.pathname === '/v1/templates' && req.method === 'GET' ? '{"templates":[{"name":"tpl"}]}' : '{}');
        }
      });
    });
    // The exec WebSocket's upgrade: refused the way the gateway refuses an unknown key.
    server.on('upgrade', (req, socket) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ method: req.method ?? '', path: url.pathname, query: url.search, headers: req.headers, body: Buffer.alloc(0) });
      const body = '{"error":{"code":"unauthorized","message":"bad key"}}';
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    client = new WrennClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, apiKey: 'wrn_key', token: 'tok' });
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const [id, op] of Object.entries(OPERATIONS)) {
    it(`${id}: ${op.method} ${op.path}`, async () => {
      seen = [];
      const outcome = await op.sample(client).then(() => undefined, (e: unknown) => e);
      if (id === 'execStream') {
        assert.ok(outcome instanceof WrennApiError);
        assert.equal(outcome.code, 'unauthorized');
        assert.equal(outcome.status, 401);
      } else {
        assert.equal(outcome, undefined, String(outcome));
      }
      assert.equal(seen.length, 1, `one request, got ${seen.map((s) => `${s.method} ${s.path}`).join(', ')}`);
      assert.equal(operationKey(seen[0].method, seen[0].path.replace(/sb_[0-9a-z]{26}|key_[0-9a-z]{26}|(?<=\/v1\/templates\/)tpl/g, '{x}')), operationKey(op.method, op.path));
    });
  }

  it('keeps the old snapshot names as deprecated aliases that call the template routes', async () => {
    seen = [];
    await client.createSnapshot('sb_0123456789abcdefghijklmnop', 'tpl');
    const listed = await client.listSnapshots();
    await client.deleteSnapshot('tpl');
    assert.deepEqual(seen.map((s) => `${s.method} ${s.path}`), ['POST /v1/templates', 'GET /v1/templates', 'DELETE /v1/templates/tpl']);
    assert.deepEqual(JSON.parse(seen[0].body.toString()), { sandbox_id: 'sb_0123456789abcdefghijklmnop', name: 'tpl' });
    assert.deepEqual(listed, [{ name: 'tpl' }], 'the list is read from the templates key');
  });

  it('sends the API key to sandbox calls and the bearer token to account calls, never both', async () => {
    seen = [];
    await client.listSandboxes();
    await client.listApiKeys();
    await client.health();
    assert.equal(seen[0].headers['x-api-key'], 'wrn_key');
    assert.equal(seen[0].headers.authorization, undefined);
    assert.equal(seen[1].headers.authorization, 'Bearer tok');
    assert.equal(seen[1].headers['x-api-key'], undefined);
    assert.equal(seen[2].headers['x-api-key'], undefined);
    assert.equal(seen[2].headers.authorization, undefined);
  });

  it('streams uploads as multipart with the part intact, and parses multi-line SSE data', async () => {
    seen = [];
    await client.uploadMultipart('sb_0123456789abcdefghijklmnop', { path: 'x', user: 'user' }, (async function* () { yield 'ab'; yield Buffer.from('cd'); })());
    const boundary = /boundary=(.+)$/.exec(String(seen[0].headers['content-type']))![1];
    const body = seen[0].body.toString();
    assert.equal(seen[0].query, '?path=x&user=user');
    assert.ok(body.startsWith(`--${boundary}\r\n`) && body.endsWith(`\r\n--${boundary}--\r\n`));
    assert.ok(body.includes('\r\n\r\nabcd\r\n'));
    const events = [];
    for await (const e of client.events()) events.push(e);
    assert.deepEqual(events, [{ seq: 7, type: 'sandbox.started', data: {} }]);
  });

  it('turns an error answer into a WrennApiError with its code', async () => {
    const refusing = createServer((_req, res) => {
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"template_in_use","message":"in use","details":{"sandbox_ids":["sb_1"]}}}');
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    try {
      const c = new WrennClient({ baseUrl: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`, apiKey: 'k' });
      const error = await c.deleteTemplate('tpl').then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof WrennApiError);
      assert.equal(error.status, 409);
      assert.equal(error.code, 'template_in_use');
      assert.deepEqual(error.details, { sandbox_ids: ['sb_1'] });
    } finally {
      await new Promise<void>((r) => refusing.close(() => r()));
    }
  });
});

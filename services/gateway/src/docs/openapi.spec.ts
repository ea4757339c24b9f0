import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCode } from '@wrenn/contracts';
import { parse } from 'yaml';
import { Access } from '../auth/access.decorators';
import { EXEC_STREAM_ROUTE, PATH_RE } from '../exec-stream/exec-stream.socket';
import { servedRoutes } from '@wrenn/gateway-test-support';
import { OPENAPI_FILE } from './docs.paths';

/** E2B's surface answers errors in E2B's shape; everything else in Wrenn's. */
const E2B_TAG = 'E2B compatibility';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const doc = parse(readFileSync(OPENAPI_FILE, 'utf8'));

function documented(): Map<string, { security?: Array<Record<string, unknown>>; responses: Record<string, unknown>; tags?: string[]; 'x-websocket'?: boolean }> {
  const out = new Map();
  for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of METHODS) if (item[method]) out.set(`${method.toUpperCase()} ${path}`, item[method]);
  }
  return out;
}

function resolveRef(ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local refs: ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], doc);
}

function* refsIn(node: unknown): Generator<string> {
  if (Array.isArray(node)) for (const item of node) yield* refsIn(item);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') yield value;
      else yield* refsIn(value);
    }
  }
}

describe('the OpenAPI document', () => {
  const routes = servedRoutes();
  const ops = documented();

  it('declares OpenAPI 3.1 with API key and bearer security schemes and the error schema', () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.deepEqual(doc.components.securitySchemes.ApiKeyAuth, { type: 'apiKey', in: 'header', name: 'X-API-Key', description: doc.components.securitySchemes.ApiKeyAuth.description });
    assert.equal(doc.components.securitySchemes.BearerAuth.scheme, 'bearer');
    assert.deepEqual(doc.security, [{ ApiKeyAuth: [] }]);
    assert.deepEqual([...doc.components.schemas.Error.properties.error.properties.code.enum].sort(), Object.values(ErrorCode).sort());
    assert.deepEqual([...doc.components.schemas.E2bError.properties.reason.enum].sort(), Object.values(ErrorCode).sort());
    assert.deepEqual(doc.components.schemas.E2bError.required, ['code', 'message']);
  });

  it('documents every route the gateway serves', () => {
    assert.ok(routes.length >= 30, `found ${routes.length} routes`);
    assert.ok(routes.some((r) => r.key === 'POST /e2b/v2/sandboxes'), 'the E2B module\'s routes are seen');
    const missing = routes.map((r) => r.key).filter((key) => !ops.has(key));
    assert.deepEqual(missing, []);
  });

  it('documents no route the gateway does not serve (the WebSocket route included)', () => {
    const served = new Set([...routes.map((r) => r.key), `GET ${EXEC_STREAM_ROUTE}`]);
    assert.deepEqual([...ops.keys()].filter((key) => !served.has(key)), []);
    const ws = ops.get(`GET ${EXEC_STREAM_ROUTE}`)!;
    assert.equal(ws['x-websocket'], true);
    assert.ok(PATH_RE.test(EXEC_STREAM_ROUTE.replace('{id}', 'sb_0123')), 'the socket serves the documented path');
  });

  it('states for each route the credentials the guard demands', () => {
    const expected = { [Access.Public]: [], [Access.User]: [{ BearerAuth: [] }], [Access.ApiKey]: [{ ApiKeyAuth: [] }] };
    for (const route of routes) {
      const op = ops.get(route.key)!;
      assert.deepEqual(op.security ?? doc.security, expected[route.access], route.key);
    }
  });

  it('tags exactly the /e2b routes as E2B compatibility', () => {
    for (const [key, op] of ops) assert.equal(op.tags?.includes(E2B_TAG) ?? false, key.split(' ')[1].startsWith('/e2b/'), key);
  });

  it('gives every protected route a 401 and every error response its surface\'s error schema', () => {
    for (const route of routes.filter((r) => r.access !== Access.Public)) assert.ok(ops.get(route.key)!.responses['401'], `${route.key} documents 401`);
    for (const [key, op] of ops) {
      for (const [status, response] of Object.entries(op.responses)) {
        // /healthz answers 503 with its report (which dependency failed), not an error.
        if (Number(status) < 400 || ((key === 'GET /healthz' || key === 'GET /v1/health') && status === '503')) continue;
        const ref = (response as { $ref?: string }).$ref;
        const resolved = (ref ? resolveRef(ref) : response) as { content?: Record<string, { schema: { $ref: string } }> };
        const schema = op.tags?.includes(E2B_TAG) ? '#/components/schemas/E2bError' : '#/components/schemas/Error';
        assert.equal(resolved.content?.['application/json']?.schema.$ref, schema, `${key} ${status}`);
      }
    }
  });

  it('has no dangling $ref', () => {
    for (const ref of refsIn(doc)) assert.ok(resolveRef(ref) !== undefined, ref);
  });
});

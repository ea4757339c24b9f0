import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import WebSocket from 'ws';
import { ErrorCode } from '@wrenn/contracts';
import { EventStore } from '@wrenn/eventlog';
import { Platform, REPO, startPlatform } from './platform';

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; minimum?: number; maximum?: number; $ref?: string; format?: string };
interface Operation {
  method: string;
  path: string;
  security: string;
  /** E2B's surface answers errors as {code, message, reason}; Wrenn's as {error: {code, message}}. */
  e2b: boolean;
  /** An endless answer (Server-Sent Events): a 200 is not read to its end. */
  stream: boolean;
  body?: Schema;
  bodyType?: string;
  query: Array<{ name: string; required: boolean }>;
  statuses: Set<string>;
}

const doc = parse(readFileSync(join(REPO, 'services/gateway/openapi.yaml'), 'utf8'));
const CODES = new Set<string>(Object.values(ErrorCode));

function deref(s: Schema | undefined): Schema | undefined {
  if (!s?.$ref) return s;
  return s.$ref.slice(2).split('/').reduce<any>((n, p) => n[p], doc);
}

/** Every documented HTTP operation (the WebSocket has its own tests). */
function operations(): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const method of ['get', 'put', 'post', 'delete']) {
      const op = item[method];
      if (!op || op['x-websocket']) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: any) => deref(p) as any);
      const security = (op.security ?? doc.security).map((s: object) => Object.keys(s)[0]).join(',') || 'public';
      const content = (deref(op.requestBody) as any)?.content ?? {};
      const bodyType = Object.keys(content)[0];
      ops.push({
        method: method.toUpperCase(),
        path,
        security,
        e2b: (op.tags ?? []).includes('E2B compatibility'),
        stream: Object.keys(op.responses['200']?.content ?? {}).includes('text/event-stream'),
        bodyType,
        body: deref(content[bodyType]?.schema),
        query: params.filter((p: any) => p.in === 'query').map((p: any) => ({ name: p.name, required: !!p.required })),
        statuses: new Set(Object.keys(op.responses)),
      });
    }
  }
  return ops;
}

/** A value the property's schema refuses (wrong type, out of range, not an email). */
function wrongValue(schema: Schema): fc.Arbitrary<unknown> {
  const s = deref(schema) ?? {};
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === 'integer') {
    return fc.oneof(
      fc.constantFrom('abc', '', '1e400', 1.5, null, [], {}),
      fc.integer({ max: (s.minimum ?? 0) - 1 }),
      ...(s.maximum !== undefined ? [fc.integer({ min: s.maximum + 1 })] : []),
    );
  }
  if (type === 'array') return fc.oneof(fc.string(), fc.integer(), fc.constant({}), fc.array(fc.integer(), { minLength: 1 }));
  if (type === 'object') return fc.oneof(fc.string(), fc.integer(), fc.array(fc.string(), { minLength: 1 }), fc.constantFrom({ A: 1 }, { A: null }, { A: ['x'] }, { '': 'x' }));
  if (s.format === 'email') return fc.oneof(fc.integer(), fc.constant(null), fc.string().filter((v) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)));
  if (type === 'boolean') return fc.oneof(fc.integer(), fc.constantFrom('true', 'false', '', 0, 1), fc.constant(null), fc.array(fc.boolean(), { minLength: 1 }), fc.object({ maxDepth: 1 }));
  return fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { minLength: 1 }), fc.object({ maxDepth: 1 }));
}

/** A body the endpoint must refuse: malformed JSON, a non-object, an unknown field, or one bad field. */
function badBody(op: Operation): fc.Arbitrary<{ text: string; type: string }> {
  const json = (v: unknown) => ({ text: JSON.stringify(v), type: 'application/json' });
  const props = op.body?.properties ?? {};
  const choices: Array<fc.Arbitrary<{ text: string; type: string }>> = [
    fc.constantFrom('{', '{"a":', 'nul', '[1,', '\u0000').map((text) => ({ text, type: 'application/json' })),
    fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }), fc.boolean()).map(json),
    fc.tuple(fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'valueOf', 'toString', 'hasOwnProperty')).filter((k) => !Object.prototype.hasOwnProperty.call(props, k)), fc.jsonValue()).map(([k, v]) => json({ [k]: v })),
  ];
  const names = Object.keys(props);
  if (names.length) {
    choices.push(fc.constantFrom(...names).chain((name) => wrongValue(props[name]).map((v) => json({ [name]: v }))));
  }
  return fc.oneof(...choices);
}

describe('bad input to every documented endpoint', { timeout: 600_000 }, () => {
  let p: Platform;
  let sandboxId = '';

  before(async () => {
    p = await startPlatform('fuzz', { WRENN_LOGIN_MAX_PER_ADDRESS: '100000', WRENN_RATE_PER_KEY_PER_MIN: '1000000', WRENN_RATE_PER_ADDRESS_PER_MIN: '1000000' });
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    sandboxId = created.body.id;
  });

  after(async () => {
    // Everything of the team, not only the sandbox made here: a failed run may have let bad
    // input create one, and sandboxes outlive the platform's stop.
    const { body } = await p.api('GET', '/v1/sandboxes?limit=1000').catch(() => ({ body: { sandboxes: [] } }));
    for (const sb of body?.sandboxes ?? []) {
      if (sb.state !== 'deleted' && sb.state !== 'failed') await p.api('DELETE', `/v1/sandboxes/${sb.id}`).catch(() => undefined);
    }
    await p?.stop();
  });

  async function snapshot() {
    const [counts] = await p.sql(`SELECT
      (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM teams)::int AS teams,
      (SELECT count(*) FROM memberships)::int AS memberships,
      (SELECT count(*) FROM api_keys)::int AS keys, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL)::int AS active_keys,
      (SELECT count(*) FROM sandboxes)::int AS sandboxes,
      (SELECT string_agg(id || ':' || state, ',') FROM templates) AS templates,
      (SELECT string_agg(id || ':' || state || ':' || version, ',') FROM sandboxes) AS sandbox_states`);
    const store = await EventStore.create(p.env.nc, p.env.naming);
    return { ...counts, lastSeq: await store.lastSeq() };
  }

  it('never answers 5xx, always the error shape, and changes nothing', async () => {
    const ops = operations();
    assert.ok(ops.length >= 35, `${ops.length} operations`);
    assert.ok(ops.some((op) => op.e2b) && ops.some((op) => op.stream), 'the E2B surface and the event stream are among them');
    const before = await snapshot();
    const seen = new Map<string, number>();

    const request = fc.constantFrom(...ops).chain((op) =>
      fc.record({
        op: fc.constant(op),
        // Ids that name nothing of this team, hostile ones, and — where the request has other
        // input that is made invalid below — the team's real sandbox.
        id: fc.oneof(
          fc.constantFrom('sb_00000000000000000000000000', 'key_00000000000000000000000000', '..', '%2e%2e%2f', 'sb_' + 'z'.repeat(300)),
          fc.string({ minLength: 1, maxLength: 40 }),
          ...(op.body || op.query.some((q) => q.required) ? [fc.constant(sandboxId)] : []),
        ),
        body: op.body || op.bodyType ? badBody(op) : fc.constant(undefined),
        query: fc.oneof(
          // Unknown parameters only: a random but valid `path` would make a valid request.
          fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !['path', 'user', 'depth', 'limit', 'state'].includes(k)), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
          fc.record({ limit: fc.constantFrom('0', '-1', 'x', '100000'), state: fc.constantFrom('nope', '') }, { requiredKeys: [] }),
          fc.record({ user: fc.constantFrom('Root!', '../etc', ''), depth: fc.constantFrom('0', '99', 'x') }, { requiredKeys: ['user'] }),
          fc.constant({ path: 'x'.repeat(4097) }),
        ),
        auth: fc.constantFrom('key', 'bearer', 'none', 'garbage'),
      }),
    );

    await fc.assert(
      fc.asyncProperty(request, async ({ op, id, body, query, auth }) => {
        // Every path parameter ({id}, {name}, {sandboxID}) gets the generated id.
        const path = op.path.replace(/\{[A-Za-z]+\}/g, encodeURIComponent(id));
        const qs = new URLSearchParams(query as Record<string, string>).toString();
        const usesToken = op.security === 'BearerAuth';
        const headers: Record<string, string> =
          auth === 'garbage' ? { 'x-api-key': 'wrn_garbage', authorization: 'Bearer garbage' } : auth === 'none' ? {} : p.authHeaders(usesToken ? 'bearer' : 'key');
        if (auth === 'bearer' && !usesToken) Object.assign(headers, p.authHeaders('bearer'));
        if (body) headers['content-type'] = op.bodyType === 'application/json' ? body.type : 'application/octet-stream';
        const abort = new AbortController();
        const res = await fetch(`${p.url}${path}${qs ? `?${qs}` : ''}`, { method: op.method, headers, body: body?.text, signal: abort.signal });
        // An event stream that opened never ends: what counts is that it opened (nothing changes).
        const streaming = op.stream && res.status === 200;
        if (streaming) abort.abort();
        const text = streaming ? '' : await res.text();
        const what = `${op.method} ${path}?${qs} ${auth} ${body?.text.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`;
        seen.set(`${op.method} ${op.path}`, (seen.get(`${op.method} ${op.path}`) ?? 0) + 1);
        assert.ok(res.status < 500, what);
        if (op.method !== 'GET') assert.ok(res.status >= 400, `bad input was accepted: ${what}`);
        if (res.status >= 400) {
          assert.ok(op.statuses.has(String(res.status)), `status not documented for the operation: ${what}`);
          assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
          const parsed = JSON.parse(text);
          if (op.e2b) {
            // E2B's shape: the SDKs branch on `code`, the HTTP status.
            assert.equal(parsed.code, res.status, what);
            assert.equal(typeof parsed.message, 'string', what);
            assert.ok(CODES.has(parsed.reason), what);
            assert.equal(parsed.error, undefined, what);
          } else {
            assert.equal(typeof parsed.error?.message, 'string', what);
            assert.ok(CODES.has(parsed.error?.code), what);
          }
        }
      }),
      { numRuns: 1500, includeErrorInReport: true, interruptAfterTimeLimit: 120_000, markInterruptAsFailure: false, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );

    // The exec's env map is too deep for the generator to reach often: its edge cases, every run.
    for (const env of [{ A: 1 }, { A: null }, { A: ['x'] }, { '': 'x' }, { 'A=B': 'x' }, { '1A': 'x' }, { A: 'x\u0000y' }]) {
      const res = await p.api('POST', `/v1/sandboxes/${sandboxId}/exec`, { cmd: 'true', env });
      assert.equal(res.status, 400, `env ${JSON.stringify(env)} → ${res.status}`);
      assert.equal(res.body.error.code, 'validation_failed');
    }

    // Under /e2b, errors that never reach a route (malformed JSON, unknown paths such as E2B's
    // template API) still answer in E2B's shape, which is what the SDKs read there.
    for (const [method, path, body, status] of [
      ['POST', '/e2b/v2/sandboxes', '{"templateID":', 400],
      ['POST', '/e2b/sandboxes/sb_00000000000000000000000000/pause', '[1,', 400],
      ['GET', '/e2b/v3/templates', undefined, 404],
      ['POST', '/e2b/sandboxes/sb_00000000000000000000000000/snapshots', '{}', 404],
    ] as const) {
      const res = await fetch(`${p.url}${path}`, { method, body, headers: { ...p.authHeaders(), 'content-type': 'application/json' } });
      const got = (await res.json()) as { code?: number; message?: unknown; error?: unknown };
      assert.equal(res.status, status, `${method} ${path}`);
      assert.deepEqual([got.code, typeof got.message, got.error], [status, 'string', undefined], `${method} ${path} → ${JSON.stringify(got)}`);
    }

    assert.deepEqual(await snapshot(), before, 'bad input changed nothing');
    // Every documented operation was exercised.
    assert.deepEqual(ops.filter((op) => !seen.has(`${op.method} ${op.path}`)).map((op) => `${op.method} ${op.path}`), []);
  });

  it('answers bad first frames on the exec WebSocket with a validation error, never running anything', async () => {
    const url = `${p.url.replace('http', 'ws')}/v1/sandboxes/${sandboxId}/exec/stream`;
    const before = await snapshot();
    const start = (extra: Record<string, unknown>) => JSON.stringify({ type: 'start', cmd: 'touch', args: ['/tmp/fuzz-ran'], ...extra });
    const frame = fc.oneof(
      fc.string().filter((t) => { try { JSON.parse(t); return false; } catch { return true; } }),
      fc.jsonValue().filter((v) => !(v && typeof v === 'object' && !Array.isArray(v) && (v as { type?: unknown }).type === 'start')).map((v) => JSON.stringify(v)),
      fc.constantFrom('null', '[]', '"start"', '{"type":"stdin","data":"eA=="}', '{"type":"eof"}'),
      wrongValue({ type: 'string' }).map((cmd) => start({ cmd })),
      fc.constantFrom('', 'x'.repeat(5000)).map((cmd) => start({ cmd })),
      wrongValue({ type: 'array' }).map((args) => start({ args })),
      fc.oneof(fc.constantFrom('Root!', '../x', ''), fc.integer()).map((user) => start({ user })),
      fc.oneof(fc.constantFrom(-1, 86_401, 1.5, 'x'), fc.constant(null)).map((timeout_sec) => start({ timeout_sec })),
      fc.oneof(fc.constant({ a: 1 }), fc.constant('x'), fc.constant([1])).map((env) => start({ env })),
      fc.oneof(fc.integer(), fc.constant({})).map((cwd) => start({ cwd })),
    );
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        const got = await new Promise<{ first?: { type: string; code?: string; status?: number }; closed: boolean }>((resolve, reject) => {
          const ws = new WebSocket(url, { headers: p.authHeaders() });
          const timer = setTimeout(() => { ws.terminate(); resolve({ closed: false }); }, 10_000);
          let first: { type: string; code?: string; status?: number } | undefined;
          ws.on('open', () => ws.send(text));
          ws.on('message', (raw) => { first ??= JSON.parse(raw.toString()); });
          ws.on('close', () => { clearTimeout(timer); resolve({ first, closed: true }); });
          ws.on('error', reject);
        });
        const what = `${text.slice(0, 200)} → ${JSON.stringify(got)}`;
        assert.ok(got.closed, `the server closes: ${what}`);
        assert.deepEqual([got.first?.type, got.first?.code, got.first?.status], ['error', 'validation_failed', 400], what);
      }),
      { numRuns: 200, includeErrorInReport: true, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false },
    );
    const ran = await p.api('POST', `/v1/sandboxes/${sandboxId}/exec`, { cmd: 'sh', args: ['-c', 'test -e /tmp/fuzz-ran && echo ran || echo clean'] });
    assert.equal(ran.body.stdout, 'clean\n', 'no fuzzed frame started a command');
    assert.deepEqual(await snapshot(), before);
  });
});

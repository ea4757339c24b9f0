import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const MAIN = join(__dirname, '..', 'main.js');
const TEMPLATE = { id: 'tpl_1', name: 'app', state: 'ready', sandbox_id: 'sb_1', host_id: 'h1', vcpus: 1, memory_mb: 512, size_bytes: 4096, created_at: '2026-01-01T00:00:00.000Z' };

describe('wrenn template, and snapshot create|ls|rm as its deprecated names', () => {
  let server: Server;
  let seen: string[] = [];
  let env: NodeJS.ProcessEnv;
  let home: string;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(`${req.method} ${req.url}`);
        res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.method === 'GET' ? { templates: [TEMPLATE] } : TEMPLATE));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    home = mkdtempSync(join(tmpdir(), 'wrenn-cli-tpl-'));
    env = { ...process.env, WRENN_API_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, WRENN_API_KEY: 'wrn_test', XDG_CONFIG_HOME: home };
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(home, { recursive: true, force: true });
  });

  const wrenn = (...args: string[]) => promisify(execFile)(process.execPath, [MAIN, ...args], { env, encoding: 'utf8' });

  it('creates, lists and removes templates through /v1/templates', async () => {
    seen = [];
    assert.equal(JSON.parse((await wrenn('template', 'create', 'sb_1', 'app', '--json')).stdout).name, 'app');
    assert.deepEqual(JSON.parse((await wrenn('template', 'ls', '--json')).stdout), [TEMPLATE]);
    assert.match((await wrenn('template', 'list')).stdout, /^app\s+ready\s+sb_1\s+h1/m);
    assert.deepEqual(JSON.parse((await wrenn('template', 'rm', 'app', '--json')).stdout), { deleted: ['app'] });
    assert.deepEqual(seen, ['POST /v1/templates', 'GET /v1/templates', 'GET /v1/templates', 'DELETE /v1/templates/app']);
  });

  it('keeps snapshot create|ls|rm working: the same output, a deprecation warning on stderr except with --json', async () => {
    seen = [];
    const created = await wrenn('snapshot', 'create', 'sb_1', 'app', '--json');
    const listed = await wrenn('snapshot', 'ls', '--json');
    const removed = await wrenn('snapshot', 'rm', 'app', '--json');
    assert.deepEqual(JSON.parse(created.stdout), TEMPLATE);
    assert.deepEqual(JSON.parse(listed.stdout), [TEMPLATE]);
    assert.deepEqual(JSON.parse(removed.stdout), { deleted: ['app'] });
    // --json output is for scripts: stderr stays what they parse (a slow call's progress line aside).
    for (const run of [created, listed, removed]) assert.doesNotMatch(run.stderr, /deprecated/);
    const plain = await Promise.all([wrenn('snapshot', 'create', 'sb_1', 'app'), wrenn('snapshot', 'list'), wrenn('snapshot', 'rm', 'app')]);
    assert.match(plain[0].stderr, /`snapshot create` is deprecated .* use `template create`/);
    assert.match(plain[1].stderr, /`snapshot ls` is deprecated .* use `template ls`/);
    assert.match(plain[1].stdout, /^app\s+ready\s+sb_1/m);
    assert.match(plain[2].stderr, /`snapshot rm` is deprecated .* use `template rm`/);
    assert.deepEqual(seen.sort(), ['DELETE /v1/templates/app', 'DELETE /v1/templates/app', 'GET /v1/templates', 'GET /v1/templates', 'POST /v1/templates', 'POST /v1/templates']);
  });
});

describe('the CLI talks to the API only through @wrenn/sdk', () => {
  // The SDK is checked against the OpenAPI document operation by operation; a call made here by
  // hand would escape that check.
  it('has no fetch, http request or /v1 path of its own', () => {
    const src = join(__dirname, '..', '..', 'src');
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : []));
    })(src);
    assert.ok(files.length >= 10, `found ${files.length} source files`);
    const offenders = files.filter((f) => /\bfetch\(|\bhttps?\.request\(|['"`]\/v1\//.test(readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { AuthenticationError, CommandExitError, FileType, NotFoundError, Sandbox, SandboxError, SandboxNotFoundError, TimeoutError } from 'e2b';
import { EventStore } from '@wrenn/eventlog';
import { eventually } from '@wrenn/testing';
import { Identity, Platform, startPlatform } from './platform';
import { asCold, says } from './lifecycle-events';

/** What the SDK reads to find a platform: nothing else is changed in the user's code. */
function pointSdkAt(url: string, apiKey: string): void {
  process.env.E2B_API_URL = `${url}/e2b`;
  process.env.E2B_SANDBOX_URL = url;
  // A Wrenn API key: the SDK sends it as X-API-KEY, the gateway's access guard checks it.
  process.env.E2B_API_KEY = apiKey;
  delete process.env.E2B_DEBUG;
  delete process.env.E2B_DOMAIN;
}

/**
 * The official `e2b` npm package (pinned in test/e2e/package.json), unchanged, against a live
 * Wrenn: E2B_API_URL at the gateway's /e2b surface, E2B_SANDBOX_URL at the gateway's envd proxy.
 */
describe('E2B SDK drop-in', () => {
  let p: Platform;
  let sbx: Sandbox;
  /** Another user's team, with its own key: must never see the owner's sandboxes. */
  let stranger: Identity;

  before(async () => {
    p = await startPlatform('e2b');
    pointSdkAt(p.url, p.owner.apiKey);
    stranger = await p.signUp('stranger');
  });
  after(async () => {
    // Leave nothing running or paused even when a test failed halfway.
    const { body } = await p.api('GET', '/v1/sandboxes').catch(() => ({ body: { sandboxes: [] } }));
    for (const sb of body?.sandboxes ?? []) {
      if (!['deleted', 'failed'].includes(sb.state)) await p.api('DELETE', `/v1/sandboxes/${sb.id}`).catch(() => undefined);
    }
    await p.stop();
  });

  it('creates a sandbox from the default template, with create-time env vars', async () => {
    sbx = await Sandbox.create({ envs: { GREETING: 'hello from create' } });
    assert.match(sbx.sandboxId, /^sb_[0-9a-z]{26}$/);
    const info = await sbx.getInfo();
    assert.equal(info.templateId, 'base');
    assert.equal(info.state, 'running');
    assert.ok(info.cpuCount >= 1 && info.memoryMB >= 64);
    const r = await sbx.commands.run('echo "$GREETING"');
    assert.equal(r.stdout, 'hello from create\n');
  });

  it('is an ordinary Wrenn sandbox: in GET /v1/sandboxes and on the event log', async () => {
    const list = await p.api('GET', '/v1/sandboxes');
    const row = list.body.sandboxes.find((s: { id: string }) => s.id === sbx.sandboxId);
    assert.ok(row, 'the E2B sandbox is listed by the REST API');
    assert.equal(row.state, 'running');
    assert.equal(row.template, 'base');
    assert.equal(row.host_id, p.hostId);
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', sbx.sandboxId);
    assert.deepEqual(asCold(events.map((e) => e.type)), ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started']);
  });

  it('refuses a wrong API key with the SDK\'s authentication error, creating nothing', async () => {
    const before = (await p.api('GET', '/v1/sandboxes')).body.sandboxes.length;
    const wrong = { apiKey: 'wrn_not-a-key-of-this-platform' };
    await assert.rejects(Sandbox.create(wrong), AuthenticationError);
    await assert.rejects(Sandbox.getInfo(sbx.sandboxId, wrong), AuthenticationError);
    await assert.rejects(Sandbox.list(wrong).nextItems(), AuthenticationError);
    await assert.rejects(Sandbox.kill(sbx.sandboxId, wrong), AuthenticationError);
    assert.equal((await p.api('GET', '/v1/sandboxes')).body.sandboxes.length, before);
    assert.equal((await sbx.getInfo()).state, 'running');
  });

  it('keeps the sandbox from another team\'s key: not found, not listed, untouched', async () => {
    const theirs = { apiKey: stranger.apiKey };
    await assert.rejects(Sandbox.getInfo(sbx.sandboxId, theirs), SandboxNotFoundError);
    await assert.rejects(Sandbox.connect(sbx.sandboxId, theirs), SandboxNotFoundError);
    await assert.rejects(Sandbox.pause(sbx.sandboxId, theirs), SandboxNotFoundError);
    await assert.rejects(Sandbox.setTimeout(sbx.sandboxId, 60_000, theirs), SandboxNotFoundError);
    await assert.rejects(Sandbox.getMetrics(sbx.sandboxId, theirs), NotFoundError);
    assert.equal(await Sandbox.kill(sbx.sandboxId, theirs), false, 'their kill finds nothing');
    const listed = await Sandbox.list(theirs).nextItems();
    assert.ok(!listed.some((s) => s.sandboxId === sbx.sandboxId), 'not in their list');
    // Still the owner's, running, with the timeout it was created with.
    const row = await p.api('GET', `/v1/sandboxes/${sbx.sandboxId}`);
    assert.equal(row.body.state, 'running');
    assert.equal(row.body.timeout_sec, 300);
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', sbx.sandboxId);
    assert.deepEqual(asCold(events.map((e) => e.type)), ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started']);
  });

  it('runs commands: stdout, stderr and a zero exit code', async () => {
    const r = await sbx.commands.run('echo out; echo err >&2');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('reports a non-zero exit as CommandExitError with the output', async () => {
    await assert.rejects(sbx.commands.run('echo partial; echo bad >&2; exit 7'), (error: unknown) => {
      assert.ok(error instanceof CommandExitError, String(error));
      assert.equal(error.exitCode, 7);
      assert.equal(error.stdout, 'partial\n');
      assert.equal(error.stderr, 'bad\n');
      return true;
    });
  });

  it('passes env vars and a working directory, and runs as E2B\'s default user', async () => {
    const r = await sbx.commands.run('echo "$FOO:$(pwd):$(whoami)"', { envs: { FOO: 'bar baz' }, cwd: '/tmp' });
    assert.equal(r.stdout, 'bar baz:/tmp:user\n');
    const root = await sbx.commands.run('whoami', { user: 'root' });
    assert.equal(root.stdout, 'root\n');
  });

  it('runs commands inside the sandbox\'s limits, like Wrenn\'s own exec', async () => {
    const groups = (text: string) => text.split('\n').filter((l) => /:(memory|pids):/.test(l)).sort().join('\n');
    const viaSdk = groups((await sbx.commands.run('cat /proc/self/cgroup')).stdout);
    const viaRest = await p.api('POST', `/v1/sandboxes/${sbx.sandboxId}/exec`, { cmd: 'cat', args: ['/proc/self/cgroup'] });
    assert.equal(viaRest.status, 200);
    assert.ok(viaSdk.length > 0, 'memory and pids groups are listed');
    assert.equal(viaSdk, groups(viaRest.body.stdout));
    const envdGroups = groups((await sbx.commands.run('cat /proc/1/cgroup 2>/dev/null || true', { user: 'root' })).stdout);
    assert.notEqual(viaSdk, envdGroups, 'commands are not in the groups of the sandbox\'s init');
  });

  it('streams output of a background command and waits for it', async () => {
    const seen: string[] = [];
    const handle = await sbx.commands.run('for i in 1 2 3; do echo line$i; sleep 0.1; done', { background: true, onStdout: (d) => void seen.push(d) });
    assert.ok(handle.pid > 0);
    const result = await handle.wait();
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'line1\nline2\nline3\n');
    assert.equal(seen.join(''), 'line1\nline2\nline3\n');
  });

  it('delivers output while the command still runs (the proxies do not buffer)', async () => {
    let first!: () => void;
    const firstSeen = new Promise<void>((resolve) => (first = resolve));
    const started = Date.now();
    const handle = await sbx.commands.run('echo first; sleep 3; echo second', { background: true, onStdout: () => first() });
    await firstSeen;
    assert.ok(Date.now() - started < 2500, `the first line arrived after ${Date.now() - started} ms, not before the command ended`);
    const result = await handle.wait();
    assert.equal(result.stdout, 'first\nsecond\n');
  });

  it('lists and kills a running background command', async () => {
    const handle = await sbx.commands.run('sleep 300', { background: true });
    const running = await sbx.commands.list();
    assert.ok(running.some((proc) => proc.pid === handle.pid), 'the command is listed while it runs');
    assert.equal(await handle.kill(), true);
    await assert.rejects(handle.wait(), (error: unknown) => error instanceof CommandExitError && error.exitCode !== 0);
    const after = await sbx.commands.list();
    assert.ok(!after.some((proc) => proc.pid === handle.pid), 'the killed command is gone');
  });

  it('writes, reads, lists, makes and removes files', async () => {
    const info = await sbx.files.write('/tmp/compat/hello.txt', 'hello, file');
    assert.equal(info.path, '/tmp/compat/hello.txt');
    assert.equal(await sbx.files.read('/tmp/compat/hello.txt'), 'hello, file');
    assert.equal(await sbx.files.makeDir('/tmp/compat/sub'), true);
    assert.equal(await sbx.files.makeDir('/tmp/compat/sub'), false, 'an existing directory is reported as not made');
    const entries = await sbx.files.list('/tmp/compat');
    const names = entries.map((e) => `${e.name}:${e.type}`).sort();
    assert.deepEqual(names, [`hello.txt:${FileType.FILE}`, `sub:${FileType.DIR}`]);
    assert.equal(await sbx.files.exists('/tmp/compat/hello.txt'), true);
    await sbx.files.remove('/tmp/compat/hello.txt');
    assert.equal(await sbx.files.exists('/tmp/compat/hello.txt'), false);
    await assert.rejects(sbx.files.read('/tmp/compat/hello.txt'), NotFoundError);
    // The file written through envd is the one commands see.
    await sbx.files.write('/tmp/compat/sub/seen.txt', 'by commands');
    assert.equal((await sbx.commands.run('cat /tmp/compat/sub/seen.txt')).stdout, 'by commands');
  });

  it('moves binary content byte for byte, relative paths landing in the user\'s home', async () => {
    const data = randomBytes(512 * 1024);
    await sbx.files.write('blob.bin', new Blob([data]));
    const back = await sbx.files.read('blob.bin', { format: 'bytes' });
    assert.equal(Buffer.compare(Buffer.from(back), data), 0);
    assert.equal((await sbx.commands.run('stat -c %s /home/user/blob.bin')).stdout, `${data.length}\n`);
  });

  it('streams a large file both ways without holding it in the platform\'s memory', async () => {
    const SIZE = 128 * 1024 * 1024;
    const CHUNK = 1024 * 1024;
    const chunk = randomBytes(CHUNK);
    const sent = createHash('sha256');
    let produced = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (produced >= SIZE) return controller.close();
        sent.update(chunk);
        produced += CHUNK;
        controller.enqueue(new Uint8Array(chunk));
      },
    });
    const rss = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${p.process.pid}/status`, 'utf8'))![1]) * 1024;
    // Reset the peak (VmHWM) so only this transfer can raise it.
    writeFileSync(`/proc/${p.process.pid}/clear_refs`, '5');
    const before = rss('VmRSS');
    await sbx.files.write('big.bin', source);
    const inside = (await sbx.commands.run('sha256sum /home/user/big.bin')).stdout.split(' ')[0];
    const digest = sent.digest('hex');
    assert.equal(inside, digest, 'the sandbox holds exactly what was sent');
    const received = createHash('sha256');
    let size = 0;
    for await (const part of await sbx.files.read('big.bin', { format: 'stream' })) {
      received.update(part);
      size += part.length;
    }
    assert.equal(size, SIZE);
    assert.equal(received.digest('hex'), digest);
    // Freed-but-not-yet-collected chunks count too (~40 MiB here); a proxy holding the file
    // whole would add at least its 128 MiB.
    const grew = rss('VmHWM') - before;
    assert.ok(grew < 96 * 1024 * 1024, `the platform's peak memory grew by ${Math.round(grew / 1048576)} MiB for a ${SIZE / 1048576} MiB file`);
    await sbx.files.remove('big.bin');
  });

  it('renames, stats and writes several files at once, gzip included', async () => {
    await sbx.files.write('/tmp/compat/old.txt', 'moved');
    const moved = await sbx.files.rename('/tmp/compat/old.txt', '/tmp/compat/new.txt');
    assert.equal(moved.path, '/tmp/compat/new.txt');
    const info = await sbx.files.getInfo('/tmp/compat/new.txt');
    assert.equal(info.size, 5);
    assert.equal(info.owner, 'user');
    const written = await sbx.files.write([{ path: '/tmp/compat/m1', data: 'one' }, { path: '/tmp/compat/m2', data: 'two' }]);
    assert.equal(written.length, 2);
    await sbx.files.write('/tmp/compat/zipped.txt', 'through gzip', { gzip: true });
    assert.equal(await sbx.files.read('/tmp/compat/zipped.txt'), 'through gzip');
  });

  it('watches a directory through the proxies', async () => {
    const names: string[] = [];
    const watcher = await sbx.files.watchDir('/tmp/compat', (event) => void names.push(event.name));
    try {
      await sbx.commands.run('touch /tmp/compat/watched.txt');
      const until = Date.now() + 3000;
      while (!names.includes('watched.txt') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await watcher.stop();
    }
    assert.ok(names.includes('watched.txt'), `events seen: ${names.join(', ')}`);
  });

  it('feeds stdin, reattaches to a running command, and times a command out', async () => {
    const cat = await sbx.commands.run('cat', { background: true, stdin: true });
    await sbx.commands.sendStdin(cat.pid, 'via stdin\n');
    await sbx.commands.closeStdin(cat.pid);
    assert.equal((await cat.wait()).stdout, 'via stdin\n');
    const late = await sbx.commands.run('sleep 0.5; echo late', { background: true });
    const again = await sbx.commands.connect(late.pid);
    assert.equal((await again.wait()).stdout, 'late\n');
    await assert.rejects(sbx.commands.run('sleep 5', { timeoutMs: 500 }), (error: unknown) => error instanceof TimeoutError);
  });

  it('runs an interactive terminal', async () => {
    let out = '';
    const term = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => void (out += Buffer.from(d).toString()) });
    await sbx.pty.sendInput(term.pid, new TextEncoder().encode('echo "pty-$((40 + 2))"; exit\n'));
    await term.wait().catch(() => undefined);
    assert.match(out, /pty-42/);
  });

  it('lists the sandbox through Sandbox.list()', async () => {
    const paginator = Sandbox.list();
    const items = await paginator.nextItems();
    const mine = items.find((s) => s.sandboxId === sbx.sandboxId);
    assert.ok(mine, 'the sandbox is listed');
    assert.equal(mine.state, 'running');
    assert.equal(mine.templateId, 'base');
    assert.equal(paginator.hasNext, false);
    const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
    assert.ok(!paused.some((s) => s.sandboxId === sbx.sandboxId), 'a running sandbox is not listed as paused');
    const byTemplate = await Sandbox.list({ query: { template: 'base', startedAfter: new Date(Date.now() - 3600_000) } }).nextItems();
    assert.ok(byTemplate.some((s) => s.sandboxId === sbx.sandboxId));
    await assert.rejects(Sandbox.list({ query: { metadata: { owner: 'alice' } } }).nextItems(), /^SandboxError: 400: /);
  });

  it('reports metrics from the sandbox\'s cgroups', async () => {
    const metrics = await sbx.getMetrics();
    assert.equal(metrics.length, 1);
    assert.ok(metrics[0].memUsed > 0 && metrics[0].memTotal >= metrics[0].memUsed);
    assert.ok(metrics[0].cpuCount >= 1);
  });

  it('connects to a running sandbox by id from a second client', async () => {
    const same = await Sandbox.connect(sbx.sandboxId);
    assert.equal(same.sandboxId, sbx.sandboxId);
    assert.equal((await same.commands.run('cat /tmp/compat/sub/seen.txt')).stdout, 'by commands');
  });

  it('refuses envd traffic without the sandbox\'s access token', async () => {
    const headers = { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983' };
    const none = await fetch(`${p.url}/health`, { headers });
    assert.equal(none.status, 401);
    const wrong = await fetch(`${p.url}/files?path=/etc/hostname`, { headers: { ...headers, 'X-Access-Token': 'not-the-token' } });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { code: number }).code, 401);
  });

  it('answers bad input with E2B\'s errors and creates nothing', async () => {
    const before = (await p.api('GET', '/v1/sandboxes')).body.sandboxes.length;
    const badRequest = (error: unknown) => error instanceof SandboxError && /^400: /.test(error.message);
    await assert.rejects(Sandbox.create('Not A Template!'), badRequest);
    await assert.rejects(Sandbox.create({ network: { allowOut: ['not a cidr!'] } }), badRequest);
    const raw = await fetch(`${p.url}/e2b/sandboxes`, { method: 'POST', headers: { 'content-type': 'application/json', ...p.authHeaders() }, body: '{"timeout":5}' });
    assert.equal(raw.status, 400);
    assert.equal(((await raw.json()) as { code: number }).code, 400);
    assert.equal((await p.api('GET', '/v1/sandboxes')).body.sandboxes.length, before);
    await assert.rejects(Sandbox.getInfo('sb_00000000000000000000000000'), NotFoundError);
  });

  it('answers with E2B\'s status codes and error shape on the wire', async () => {
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${p.url}/e2b${path}`, { method, headers: { 'content-type': 'application/json', ...p.authHeaders() }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    const created = await call('POST', '/sandboxes', { templateID: 'base', timeout: 60 });
    assert.equal(created.status, 201);
    const id = created.body.sandboxID;
    try {
      assert.equal(created.body.envdVersion, '0.5.7');
      assert.equal(typeof created.body.envdAccessToken, 'string');
      const connected = await call('POST', `/v2/sandboxes/${id}/connect`, {});
      assert.equal(connected.status, 200);
      assert.equal(connected.body.envdAccessToken, created.body.envdAccessToken);
      const timeout = await call('POST', `/sandboxes/${id}/timeout`, { timeout: 30 });
      assert.equal(timeout.status, 204);
      assert.equal((await p.api('GET', `/v1/sandboxes/${id}`)).body.timeout_sec, 30);
      const badTimeout = await call('POST', `/sandboxes/${id}/timeout`, { timeout: -1 });
      assert.equal(badTimeout.status, 400);
      assert.equal(badTimeout.body.code, 400);
      assert.equal((await p.api('GET', `/v1/sandboxes/${id}`)).body.timeout_sec, 30, 'a refused timeout changes nothing');
      const keepMemory = await call('POST', `/sandboxes/${id}/pause`, { memory: true });
      assert.equal(keepMemory.status, 400, 'memory snapshots are refused, not ignored');
      assert.equal((await p.api('GET', `/v1/sandboxes/${id}`)).body.state, 'running');
      assert.equal((await call('POST', `/sandboxes/${id}/pause`, {})).status, 204);
      const twice = await call('POST', `/sandboxes/${id}/pause`, {});
      assert.equal(twice.status, 409);
      assert.equal(twice.body.code, 409);
      const resumed = await call('POST', `/v2/sandboxes/${id}/connect`, {});
      assert.equal(resumed.status, 201, 'a paused sandbox is resumed by connect');
      assert.equal(resumed.body.envdAccessToken, created.body.envdAccessToken);
      // Two clients connecting to one paused sandbox at once: one resume, both answered once it runs.
      assert.equal((await call('POST', `/sandboxes/${id}/pause`, {})).status, 204);
      const both = await Promise.all([call('POST', `/v2/sandboxes/${id}/connect`, {}), call('POST', `/v2/sandboxes/${id}/connect`, {})]);
      assert.ok(both.every((r) => r.status === 200 || r.status === 201), JSON.stringify(both));
      assert.ok(both.some((r) => r.status === 201));
      assert.equal((await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' })).status, 200, 'running when either answered');
      const store = await EventStore.create(p.env.nc, p.env.naming);
      const history = (await store.load('sandbox', id)).events.map((e) => e.type);
      assert.equal(history.filter((t) => t === 'sandbox.resume_requested').length, 2, 'one resume per pause, none for the second client');
      assert.equal((await call('POST', `/v2/sandboxes/sb_00000000000000000000000000/connect`, {})).status, 404);
      assert.equal((await call('POST', `/sandboxes/sb_00000000000000000000000000/pause`, {})).status, 404);
      assert.equal((await call('POST', `/sandboxes/sb_00000000000000000000000000/timeout`, { timeout: 5 })).status, 404);
    } finally {
      assert.equal((await call('DELETE', `/sandboxes/${id}`)).status, 204);
    }
    const again = await call('DELETE', `/sandboxes/${id}`);
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 404);
    assert.equal((await call('GET', `/sandboxes/${id}`)).status, 404);
  });

  it('sets the timeout: Wrenn\'s inactivity timeout, on the log, endAt moved', async () => {
    await sbx.setTimeout(120_000);
    const info = await sbx.getInfo();
    assert.ok(info.endAt.getTime() > Date.now() + 100_000, `endAt ${info.endAt.toISOString()}`);
    assert.ok(info.endAt.getTime() <= Date.now() + 121_000, `endAt ${info.endAt.toISOString()}`);
    assert.equal((await p.api('GET', `/v1/sandboxes/${sbx.sandboxId}`)).body.timeout_sec, 120);
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', sbx.sandboxId);
    assert.equal(events.at(-1)!.type, 'sandbox.timeout_changed');
    assert.deepEqual(events.at(-1)!.data, { timeoutSec: 120 });
  });

  it('pauses, lists as paused, and resumes through connect with the files written before', async () => {
    await sbx.files.write('/tmp/compat/kept.txt', 'kept across the pause');
    await sbx.files.write('kept.bin', new Blob([Buffer.from([0, 1, 2, 255])]));
    assert.equal(await sbx.pause(), true);
    assert.equal((await sbx.getInfo()).state, 'paused');
    assert.equal((await p.api('GET', `/v1/sandboxes/${sbx.sandboxId}`)).body.state, 'paused');
    assert.equal(await Sandbox.pause(sbx.sandboxId), false, 'pausing a paused sandbox reports false');

    const listed = (await Sandbox.list().nextItems()).find((s) => s.sandboxId === sbx.sandboxId);
    assert.equal(listed?.state, 'paused', 'Sandbox.list shows it paused');
    const pausedOnly = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
    assert.ok(pausedOnly.some((s) => s.sandboxId === sbx.sandboxId));
    const runningOnly = await Sandbox.list({ query: { state: ['running'] } }).nextItems();
    assert.ok(!runningOnly.some((s) => s.sandboxId === sbx.sandboxId));
    assert.deepEqual(await sbx.getMetrics(), [], 'a paused sandbox uses nothing');

    const resumed = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 90_000 });
    assert.equal(resumed.sandboxId, sbx.sandboxId);
    assert.equal((await resumed.getInfo()).state, 'running');
    assert.equal(await resumed.files.read('/tmp/compat/kept.txt'), 'kept across the pause');
    assert.deepEqual([...(await resumed.files.read('kept.bin', { format: 'bytes' }))], [0, 1, 2, 255]);
    assert.equal((await resumed.commands.run('cat /tmp/compat/kept.txt')).stdout, 'kept across the pause');
    // The first handle still works: same id, same access token.
    assert.equal((await sbx.commands.run('echo again')).stdout, 'again\n');
    const row = await p.api('GET', `/v1/sandboxes/${sbx.sandboxId}`);
    assert.equal(row.body.state, 'running');
    assert.equal(row.body.timeout_sec, 90, 'connect\'s timeout became the sandbox\'s');
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', sbx.sandboxId);
    assert.deepEqual(events.slice(-5).map((e) => e.type), ['sandbox.pause_requested', 'sandbox.paused', 'sandbox.resume_requested', 'sandbox.resumed', 'sandbox.timeout_changed']);
    assert.ok(events.every((e) => e.actor.kind === 'api_key' && e.actor.id === p.owner.keyId), 'every step acted for the owner\'s key');
  });

  it('counts SDK traffic as use: not paused under a long command, paused once idle, back with connect', async (t) => {
    const short = await Sandbox.create({ timeoutMs: 3000 });
    try {
      const store = await EventStore.create(p.env.nc, p.env.naming);
      const types = async () => (await store.load('sandbox', short.sandboxId)).events.map((e) => e.type);
      // Only envd traffic, twice the timeout long: the proxy holds the sandbox in use throughout.
      assert.equal((await short.commands.run('sleep 6; echo done', { timeoutMs: 20_000 })).stdout, 'done\n');
      assert.ok(!(await types()).includes('sandbox.pause_requested'), 'not paused under its own command');
      const idleFrom = Date.now();
      await eventually(async () => (await types()).includes('sandbox.auto_paused'), 20_000, 'the idle sandbox to be paused').catch(async (error) => {
        // What the log and the platform said, to tell a slow reaper from a sandbox kept in use.
        t.diagnostic(`events: ${(await types()).join(' → ')}`);
        t.diagnostic(p.output().split('\n').filter((l) => l.includes(short.sandboxId)).slice(-10).join('\n'));
        throw error;
      });
      assert.ok(Date.now() - idleFrom >= 2000, 'not before its timeout');
      assert.equal((await Sandbox.getInfo(short.sandboxId)).state, 'paused');
      const back = await Sandbox.connect(short.sandboxId);
      assert.equal((await back.commands.run('echo back')).stdout, 'back\n');
    } finally {
      await Sandbox.kill(short.sandboxId);
    }
  });

  it('kills the sandbox: gone for E2B, stopped for Wrenn, on the log', async () => {
    assert.equal(await sbx.kill(), true);
    assert.equal(await sbx.isRunning(), false);
    await assert.rejects(sbx.getInfo(), NotFoundError);
    assert.equal(await Sandbox.kill(sbx.sandboxId), false, 'a second kill finds nothing');
    const row = await eventually(async () => {
      const got = await p.api('GET', `/v1/sandboxes/${sbx.sandboxId}`);
      return got.body.state === 'deleted' ? got : undefined;
    }, 30_000, 'the killed sandbox to be deleted');
    assert.equal(row.body.state, 'deleted');
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', sbx.sandboxId);
    assert.deepEqual(events.slice(-2).map((e) => e.type), ['sandbox.stop_requested', 'sandbox.stopped']);
  });

  it('is in the team\'s audit trail and usage, and in no other team\'s', async () => {
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', sbx.sandboxId);
    const path = `/v1/audit?resource_type=sandbox&resource_id=${sbx.sandboxId}`;
    const entries = await eventually(async () => {
      const res = await p.api('GET', path);
      return res.body.entries?.length === events.length ? res.body.entries : undefined;
    }, 10_000, 'the audit rows');
    assert.deepEqual(entries.map((e: { type: string }) => e.type), events.map((e) => e.type).reverse());
    assert.ok(entries.every((e: { team_id: string; actor: { kind: string; id: string } }) => e.team_id === p.owner.teamId && e.actor.kind === 'api_key' && e.actor.id === p.owner.keyId));
    assert.deepEqual((await p.api('GET', path, undefined, { auth: { apiKey: stranger.apiKey } })).body.entries, []);

    // Billed for the time it ran: at least started → pause_requested, and the snapshot's storage.
    const at = (type: string) => Date.parse(events.find((e) => says(e.type, type))!.occurredAt);
    const ran = at('sandbox.pause_requested') - at('sandbox.started');
    const window = `from=${new Date(at('sandbox.requested') - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`;
    const usage = await eventually(async () => {
      const res = await p.api('GET', `/v1/usage?${window}`);
      return BigInt(res.body.usage?.vcpu_ms ?? 0) >= BigInt(ran) ? res.body.usage : undefined;
    }, 10_000, 'the usage');
    assert.ok(BigInt(usage.memory_mib_ms) >= BigInt(ran) * 512n, `memory_mib_ms ${usage.memory_mib_ms} for ${ran} ms at 512 MiB`);
    assert.ok(BigInt(usage.storage_byte_ms) > 0n, 'the paused snapshot is billed as storage');
    const theirs = await p.api('GET', `/v1/usage?${window}`, undefined, { auth: { apiKey: stranger.apiKey } });
    assert.equal(theirs.body.usage.vcpu_ms, '0');
  });
});

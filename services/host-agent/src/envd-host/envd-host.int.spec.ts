import { Code, ConnectError } from '@connectrpc/connect';
import { LocalSystem } from '@wrenn/envd';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnvdClient } from '../envd-client/envd.client';
import { newEnvdAccessToken } from '../envd-client/envd-token';
import { EnvdHost, ENVD_HOST_SANDBOX_HEADER } from './envd-host';

const A = 'sb_01hzzzzzzzzzzzzzzzzzzzzzza';
const B = 'sb_01hzzzzzzzzzzzzzzzzzzzzzzb';
const GONE = 'sb_01hzzzzzzzzzzzzzzzzzzzzzzc';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A raw request on the envd host's socket (what the agent's clients send). */
function onSocket(socketPath: string, sandboxId: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: init.method ?? 'GET', headers: { [ENVD_HOST_SANDBOX_HEADER]: sandboxId, ...init.headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end(init.body);
  });
}

describe('the envd host: one envd in the agent for every sandbox (LocalSystem as the transport)', () => {
  let dir: string;
  let socketPath: string;
  let host: EnvdHost;
  const tokens = { [A]: newEnvdAccessToken(), [B]: newEnvdAccessToken() };
  const systems: LocalSystem[] = [];
  let located = 0;
  const clients: EnvdClient[] = [];
  const client = (sandboxId: string, token: string) => {
    const c = new EnvdClient('http://envd-host', token, undefined, { agent: host.agent(), sandboxId });
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'envd-host-'));
    socketPath = join(dir, 'envd.sock');
    host = new EnvdHost({
      idleMs: 60_000,
      socketPath,
      // B is found only by lookup (as after an agent restart); anything else is not on this host.
      locate: async (id) => {
        located++;
        if (id !== B) throw new Error('not here');
        return { accessToken: tokens[B], openSystem: () => track(new LocalSystem()) };
      },
    });
    const track = (s: LocalSystem) => (systems.push(s), s);
    host.open(A, { accessToken: tokens[A], openSystem: () => track(new LocalSystem()) });
    await host.listen();
  });
  after(async () => {
    for (const c of clients) c.close();
    await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a command in a sandbox it was handed the token of, with no POST /init and no health poll', async () => {
    const r = await client(A, tokens[A]).exec({ cmd: '/bin/sh', args: ['-c', 'echo hi; echo err >&2'], user: 'root' }, 10);
    assert.deepEqual([r.stdout, r.stderr, r.exitCode], ['hi\n', 'err\n', 0]);
    assert.deepEqual(host.counts, { sandboxes: 1, instances: 1 });
  });

  it("refuses one sandbox's token on another, and a request without one", async () => {
    const refused = (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated;
    await assert.rejects(client(A, tokens[B]).exec({ cmd: 'true', args: [], user: 'root' }, 10), refused);
    const none = await onSocket(socketPath, A, '/envs');
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.body).reason, 'access_token_missing');
  });

  it('finds a sandbox it was not handed by looking it up once, and answers 502 for one not on this host', async () => {
    const before = located;
    const r = await client(B, tokens[B]).exec({ cmd: 'echo', args: ['b'], user: 'root' }, 10);
    assert.equal(r.stdout, 'b\n');
    await client(B, tokens[B]).exec({ cmd: 'true', args: [], user: 'root' }, 10);
    assert.equal(located, before + 1, 'the entry is kept after the first lookup');
    const gone = await onSocket(socketPath, GONE, '/envs', { headers: { 'x-access-token': tokens[A] } });
    assert.equal(gone.status, 502);
  });

  it("keeps a sandbox's /init env vars in its entry when its idle instance is dropped", async () => {
    const init = await onSocket(socketPath, A, '/init', { method: 'POST', headers: { 'x-access-token': tokens[A], 'content-type': 'application/json' }, body: JSON.stringify({ envVars: { WRENN_PROBE: 'kept' } }) });
    assert.equal(init.status, 204);
    const systemsBefore = systems.length;
    assert.equal(await host.sweep(Date.now() + 60_000), 2, 'both idle instances are dropped');
    assert.deepEqual(host.counts, { sandboxes: 2, instances: 0 });
    const r = await client(A, tokens[A]).exec({ cmd: '/bin/sh', args: ['-c', 'printf %s "$WRENN_PROBE"'], user: 'root' }, 10);
    assert.equal(r.stdout, 'kept');
    assert.equal(systems.length, systemsBefore + 1, 'a new instance opened its own way into the sandbox');
  });

  it('keeps an instance with a running process, and forget() ends the process with the sandbox', async () => {
    const envd = client(A, tokens[A]);
    const abort = new AbortController();
    const stream = envd.start({ cmd: 'sleep', args: ['300'], user: 'root' }, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = await stream.next();
    assert.equal(first.value?.event?.event.case, 'start');
    const pid = (first.value!.event!.event.value as { pid: number }).pid;
    abort.abort(); // the stream goes; the process stays, and with it the instance
    await stream.return?.();
    assert.equal(await host.sweep(Date.now() + 60_000), 0, 'the instance running a process is kept');
    assert.equal(host.counts.instances, 1);
    assert.ok(alive(pid));
    await host.forget(A);
    const deadline = Date.now() + 5000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false, 'the sandbox\'s processes end with its entry');
    assert.deepEqual(host.counts, { sandboxes: 1, instances: 0 });
    const gone = await onSocket(socketPath, A, '/envs', { headers: { 'x-access-token': tokens[A] } });
    assert.equal(gone.status, 502, 'a forgotten sandbox is not served (locate does not know it)');
  });

  it("serves the agent's own calls in process, with no socket, under the same token check", async () => {
    // A host that never listens: whatever answers below came through no socket.
    const quiet = new EnvdHost({ socketPath: join(dir, 'never.sock'), locate: async () => Promise.reject(new Error('not here')) });
    try {
      quiet.open(A, { accessToken: tokens[A], openSystem: () => new LocalSystem() });
      const inProcess = (sandboxId: string, token: string) => {
        const c = new EnvdClient('http://envd-host', token, undefined, {
          agent: quiet.agent(),
          sandboxId,
          transport: quiet.transport(sandboxId),
          startProcess: (request, header, signal) => quiet.startProcess(sandboxId, request, header, signal),
        });
        clients.push(c);
        return c;
      };
      const r = await inProcess(A, tokens[A]).exec({ cmd: '/bin/sh', args: ['-c', 'echo in; echo err >&2; exit 3'], user: 'root' }, 10);
      assert.deepEqual([r.stdout, r.stderr, r.exitCode], ['in\n', 'err\n', 3]);
      assert.deepEqual((await inProcess(A, tokens[A]).listDir(dir, 1)).map((e) => e.name).includes('envd.sock'), true);
      const refused = (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated;
      await assert.rejects(inProcess(A, tokens[B]).exec({ cmd: 'true', args: [], user: 'root' }, 10), refused);
      await assert.rejects(inProcess(A, '').listDir(dir, 1), refused);
      await assert.rejects(inProcess(GONE, tokens[A]).exec({ cmd: 'true', args: [], user: 'root' }, 10), (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable);
      await assert.rejects(inProcess(GONE, tokens[A]).listDir(dir, 1), (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable);
      // A command past its time is killed and reported so, as over the socket.
      const late = await inProcess(A, tokens[A]).exec({ cmd: 'sleep', args: ['30'], user: 'root' }, 1);
      assert.deepEqual([late.timedOut, late.exitCode], [true, 137]);
      // A process running through the in-process path keeps its instance from the idle sweep.
      const abort = new AbortController();
      const stream = inProcess(A, tokens[A]).start({ cmd: 'sleep', args: ['300'], user: 'root' }, { signal: abort.signal })[Symbol.asyncIterator]();
      const first = await stream.next();
      const pid = (first.value!.event!.event.value as { pid: number }).pid;
      assert.equal(await quiet.sweep(Date.now() + 120_000), 0, 'the instance running a process was dropped');
      abort.abort();
      // The stream fails as a Connect stream does when its caller aborts; the process stays.
      await assert.rejects(stream.next(), (e: unknown) => e instanceof ConnectError && e.code === Code.Canceled);
      assert.ok(alive(pid));
      await quiet.forget(A);
      const deadline = Date.now() + 5000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(alive(pid), false);
    } finally {
      await quiet.close();
    }
  });
});

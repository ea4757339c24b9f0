import { Code, ConnectError } from '@connectrpc/connect';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EnvdClient } from './envd.client';
import { envdTokenEnv, initEnvdAccessToken, newEnvdAccessToken } from './envd-token';

/** envd's bundle as sandboxes run it, a plain Node process on loopback here. */
const ENVD_MAIN = join(__dirname, '../../../envd/bundle/envd-main.js');

async function startEnvd(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const { ENVD_ACCESS_TOKEN: _, ...inherited } = process.env;
  const child = spawn(process.execPath, [ENVD_MAIN], { env: { ...inherited, ENVD_PORT: '0', ENVD_HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`envd did not start: ${out}`)), 10_000);
    child.once('exit', (code) => reject(new Error(`envd exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /envd listening on [^\s]+:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const deniedAs = (code: Code) => (error: unknown) => {
  assert.ok(error instanceof ConnectError, String(error));
  assert.equal(error.code, code, error.message);
  return true;
};

describe('the host agent\'s envd client and the access token (a real envd bundle)', () => {
  const clients: EnvdClient[] = [];
  const client = (url: string, token?: string) => {
    const c = new EnvdClient(url, token);
    clients.push(c);
    return c;
  };
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'envd-token-'));
  });
  after(async () => {
    for (const c of clients) c.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('new tokens are 32 random bytes, base64url, never repeated', () => {
    const tokens = new Set(Array.from({ length: 100 }, newEnvdAccessToken));
    assert.equal(tokens.size, 100);
    for (const t of tokens) assert.equal(Buffer.from(t, 'base64url').length, 32);
  });

  it('a namespace sandbox\'s envd (token in its environment at start): commands and files with the token, refused without', async () => {
    const token = newEnvdAccessToken();
    const envd = await startEnvd(envdTokenEnv(token));
    try {
      assert.equal(await client(envd.url).healthy(), true, '/health needs no token (the agent waits on it)');
      const owner = client(envd.url, token);
      const r = await owner.exec({ cmd: '/bin/sh', args: ['-c', 'echo "$ENVD_ACCESS_TOKEN"; id -u'], user: 'root' }, 10);
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, `\n${process.getuid!()}\n`, 'the command does not see the token');
      const path = join(dir, 'up.txt');
      await owner.upload(path, Readable.from([Buffer.from('hello')]), 'root');
      const { stream } = await owner.download(path, 'root');
      let text = '';
      for await (const chunk of stream) text += chunk;
      assert.equal(text, 'hello');

      for (const stranger of [client(envd.url), client(envd.url, newEnvdAccessToken())]) {
        await assert.rejects(stranger.exec({ cmd: 'touch', args: [join(dir, 'pwned')], user: 'root' }, 10), deniedAs(Code.Unauthenticated));
        await assert.rejects(stranger.upload(join(dir, 'pwned'), Readable.from([Buffer.from('x')]), 'root'), deniedAs(Code.PermissionDenied));
        await assert.rejects(stranger.download(path, 'root'), deniedAs(Code.PermissionDenied));
        await assert.rejects(stranger.listDir(dir, 1, 'root'), deniedAs(Code.Unauthenticated));
      }
      await assert.rejects(readFile(join(dir, 'pwned')), { code: 'ENOENT' });
    } finally {
      await stop(envd.child);
    }
  });

  it('a VM\'s envd (no token at start): /init hands it one; a second /init needs the first', async () => {
    const envd = await startEnvd({});
    try {
      await assert.rejects(client(envd.url).exec({ cmd: 'true', args: [], user: 'root' }, 10), deniedAs(Code.Unauthenticated));
      const first = newEnvdAccessToken();
      await initEnvdAccessToken(envd.url, first);
      assert.equal((await client(envd.url, first).exec({ cmd: 'true', args: [], user: 'root' }, 10)).exitCode, 0);
      // A process inside racing the host (or the host of another sandbox) cannot take it over.
      const second = newEnvdAccessToken();
      await assert.rejects(initEnvdAccessToken(envd.url, second), /envd refused its access token: 401 access_token_missing/);
      await assert.rejects(initEnvdAccessToken(envd.url, second, newEnvdAccessToken()), /401 access_token_invalid/);
      // The one who holds the current token moves it (a VM started from a template's memory).
      await initEnvdAccessToken(envd.url, second, first);
      await assert.rejects(client(envd.url, first).exec({ cmd: 'true', args: [], user: 'root' }, 10), deniedAs(Code.Unauthenticated));
      assert.equal((await client(envd.url, second).exec({ cmd: 'true', args: [], user: 'root' }, 10)).exitCode, 0);
    } finally {
      await stop(envd.child);
    }
  });
});

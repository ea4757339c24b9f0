import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { filesystemPb, processPb } from '@wrenn/proto';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basicAuth, collect, EnvdHarness, startEnvd } from '@wrenn/envd-test-support';

/** Connect clients acting as root that send `token` as X-Access-Token (or nothing). */
function clientsWith(baseUrl: string, token: string | undefined) {
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: '1.1',
    interceptors: [
      (next) => (req) => {
        req.header.set('authorization', basicAuth('root'));
        if (token !== undefined) req.header.set('x-access-token', token);
        return next(req);
      },
    ],
  });
  return { process: createClient(processPb.Process, transport), filesystem: createClient(filesystemPb.Filesystem, transport) };
}

async function refusedUnauthenticated(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, Code.Unauthenticated, error.message);
    return true;
  });
}

async function refusal(res: Response, reason: string): Promise<void> {
  assert.equal(res.status, 401);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(await res.json(), { code: 401, message: reason === 'access_token_not_set' ? 'envd has no access token yet' : 'missing or invalid X-Access-Token', reason });
}

describe('envd refuses requests without its access token (a real envd)', () => {
  let envd: EnvdHarness;
  before(async () => {
    envd = await startEnvd();
  });
  after(async () => {
    await envd?.stop();
  });

  const wrongTokens = () => ({
    missing: undefined,
    empty: '',
    // Same length as the real one, one character off: only a constant-time compare of all of it catches it.
    'one character off': envd.accessToken!.slice(0, -1) + (envd.accessToken!.endsWith('A') ? 'B' : 'A'),
    'a prefix': envd.accessToken!.slice(0, 10),
  });

  it('process.Process/Start: refused (unauthenticated) without or with a wrong token, and nothing runs', async () => {
    for (const [what, token] of Object.entries(wrongTokens())) {
      const marker = join(envd.dir, `started-${what.replace(/\W/g, '-')}`);
      const { process } = clientsWith(envd.baseUrl, token);
      await refusedUnauthenticated(collect(process.start({ process: { cmd: '/bin/touch', args: [marker] } })));
      assert.equal(existsSync(marker), false, `a process ran with a ${what} token`);
    }
  });

  it('process.Process/Start: runs with the right token, and the command does not inherit the token', async () => {
    const { process } = clientsWith(envd.baseUrl, envd.accessToken);
    const c = await collect(process.start({ process: { cmd: '/bin/sh', args: ['-c', 'env; cat /proc/self/environ'] } }));
    assert.equal(c.end?.exitCode, 0);
    assert.match(c.stdout, /^PATH=/m);
    assert.ok(!c.stdout.includes(envd.accessToken!), 'the token leaked into a started process');
    assert.ok(!c.stdout.includes('ENVD_ACCESS_TOKEN'));
  });

  it('process.Process/List and filesystem: refused without the token, served with it', async () => {
    const made = join(envd.dir, 'made-without-token');
    const anon = clientsWith(envd.baseUrl, undefined);
    await refusedUnauthenticated(anon.process.list({}));
    await refusedUnauthenticated(anon.filesystem.makeDir({ path: made }));
    await refusedUnauthenticated(anon.filesystem.listDir({ path: envd.dir, depth: 1 }));
    assert.equal(existsSync(made), false);
    const owner = clientsWith(envd.baseUrl, envd.accessToken);
    await owner.filesystem.makeDir({ path: made });
    assert.ok((await owner.filesystem.listDir({ path: envd.dir, depth: 1 })).entries.some((e) => e.path === made));
  });

  it('answers a refused Connect call with Connect\'s error JSON and a stable reason', async () => {
    const res = await fetch(`${envd.baseUrl}/process.Process/List`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth('root') }, body: '{}' });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { code: 'unauthenticated', message: 'missing or invalid X-Access-Token', details: [], reason: 'access_token_missing' });
  });

  it('/files: upload and download refused (401, machine-readable) without or with a wrong token; served with it', async () => {
    const secret = join(envd.dir, 'secret.txt');
    writeFileSync(secret, 'the content nobody may read');
    const planted = join(envd.dir, 'planted.txt');
    for (const [what, token] of Object.entries(wrongTokens())) {
      const headers: Record<string, string> = token === undefined ? {} : { 'x-access-token': token };
      const reason = token ? 'access_token_invalid' : 'access_token_missing';
      await refusal(await fetch(`${envd.baseUrl}/files?${new URLSearchParams({ path: secret, username: 'root' })}`, { headers }), reason);
      const up = await fetch(`${envd.baseUrl}/files?${new URLSearchParams({ path: planted, username: 'root' })}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        body: 'planted',
      });
      await refusal(up, reason);
      assert.equal(existsSync(planted), false, `an upload with a ${what} token wrote the file`);
    }
    const down = await envd.fetch(`${envd.baseUrl}/files?${new URLSearchParams({ path: secret, username: 'root' })}`);
    assert.equal(down.status, 200);
    assert.equal(await down.text(), 'the content nobody may read');
  });

  it('/health stays open and says nothing but that envd is up', async () => {
    const res = await fetch(`${envd.baseUrl}/health`);
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
    // Anything else under the open path is not open.
    assert.equal((await fetch(`${envd.baseUrl}/health`, { method: 'POST' })).status, 401);
  });

  it('/init and /envs: without the token nobody can set the token or the environment', async () => {
    const init = await fetch(`${envd.baseUrl}/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accessToken: 'mine-now', envVars: { EVIL: '1' } }) });
    await refusal(init, 'access_token_missing');
    await refusal(await fetch(`${envd.baseUrl}/envs`), 'access_token_missing');
    const envs = await envd.fetch(`${envd.baseUrl}/envs`);
    assert.deepEqual(await envs.json(), {});
    // The token did not change: the attacker's is refused, the host's still works.
    await refusedUnauthenticated(clientsWith(envd.baseUrl, 'mine-now').process.list({}));
    await clientsWith(envd.baseUrl, envd.accessToken).process.list({});
  });
});

describe('envd started without a token (a VM\'s, waiting for the host\'s /init)', () => {
  let envd: EnvdHarness;
  before(async () => {
    envd = await startEnvd({ accessToken: null });
  });
  after(async () => {
    await envd?.stop();
  });

  it('refuses everything but /health and the /init that sets a token; the first /init wins, a later one needs it', async () => {
    const init = (body: object, headers: Record<string, string> = {}) =>
      fetch(`${envd.baseUrl}/init`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    assert.equal((await fetch(`${envd.baseUrl}/health`)).status, 204);
    await refusedUnauthenticated(clientsWith(envd.baseUrl, undefined).process.list({}));
    await refusedUnauthenticated(clientsWith(envd.baseUrl, 'anything').process.list({}));
    await refusal(await fetch(`${envd.baseUrl}/files?path=/etc/hostname`), 'access_token_not_set');
    // An /init that brings no token sets nothing else either.
    await refusal(await init({ envVars: { EVIL: '1' } }), 'access_token_not_set');

    assert.equal((await init({ accessToken: 'first-token', envVars: { A: '1' } })).status, 204);
    await clientsWith(envd.baseUrl, 'first-token').process.list({});
    await refusal(await init({ accessToken: 'second-token' }), 'access_token_missing');
    await refusedUnauthenticated(clientsWith(envd.baseUrl, 'second-token').process.list({}));

    // The holder of the current token may change it (a VM started from another's snapshot).
    assert.equal((await init({ accessToken: 'second-token' }, { 'x-access-token': 'first-token' })).status, 204);
    await refusedUnauthenticated(clientsWith(envd.baseUrl, 'first-token').process.list({}));
    await clientsWith(envd.baseUrl, 'second-token').process.list({});
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@wrenn/logger';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { EnvdProxyServer, startEnvdProxy } from './envd-proxy.server';

const HERE = 'sb_01jz0000000000000000000001';
const ELSEWHERE = 'sb_01jz0000000000000000000002';
/** The token this sandbox's envd demands; only the agent holds it. */
const ENVD_TOKEN = 'the-envd-token-of-this-sandbox-only-the-agent-holds';

describe('envd proxy (host agent)', () => {
  let envd: Server;
  let proxy: EnvdProxyServer;
  let seen: IncomingMessage | undefined;

  before(async () => {
    // Stands in for one sandbox's envd: answers what it received.
    envd = createServer((req, res) => {
      seen = req;
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, method: req.method, body })));
    });
    await new Promise<void>((resolve) => envd.listen(0, '127.0.0.1', resolve));
    const envdUrl = `http://127.0.0.1:${(envd.address() as AddressInfo).port}`;
    const locate = async (id: string) => {
      if (id !== HERE) throw new Error(`sandbox ${id} is not on this host`);
      return { baseUrl: envdUrl, accessToken: ENVD_TOKEN };
    };
    proxy = await startEnvdProxy(locate, { host: '127.0.0.1', port: 0, advertise: '127.0.0.1' }, createLogger('test'));
  });
  after(async () => {
    await proxy.close();
    envd.closeAllConnections();
    await new Promise((resolve) => envd.close(resolve));
  });

  it('advertises where it listens', () => {
    assert.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('routes by E2b-Sandbox-Id to that sandbox\'s envd, path, method and body intact', async () => {
    const res = await fetch(`${proxy.url}/process.Process/List?x=1`, { method: 'POST', headers: { 'E2b-Sandbox-Id': HERE, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { path: '/process.Process/List?x=1', method: 'POST', body: '{}' });
    assert.equal(seen?.headers['e2b-sandbox-id'], HERE);
  });

  it('puts envd\'s access token on every request, in place of any token the caller sent', async () => {
    for (const sent of [undefined, 'the-sdk-token', '']) {
      seen = undefined;
      const headers: Record<string, string> = { 'E2b-Sandbox-Id': HERE, 'content-type': 'application/json' };
      if (sent !== undefined) headers['X-Access-Token'] = sent;
      const res = await fetch(`${proxy.url}/process.Process/List`, { method: 'POST', headers, body: '{}' });
      assert.equal(res.status, 200);
      assert.equal((seen as IncomingMessage | undefined)?.headers['x-access-token'], ENVD_TOKEN, `caller sent ${sent}`);
    }
  });

  it('answers 502 for a sandbox that is not on this host, as E2B\'s proxy does', async () => {
    const res = await fetch(`${proxy.url}/health`, { headers: { 'E2b-Sandbox-Id': ELSEWHERE } });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { code: number; sandboxId: string };
    assert.equal(body.code, 502);
    assert.equal(body.sandboxId, ELSEWHERE);
  });

  it('answers 400 when the header is missing or not a sandbox id', async () => {
    assert.equal((await fetch(`${proxy.url}/health`)).status, 400);
    assert.equal((await fetch(`${proxy.url}/health`, { headers: { 'E2b-Sandbox-Id': '../etc' } })).status, 400);
  });
});

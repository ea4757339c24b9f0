import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@wrenn/logger';
import { generateHostTokenKeys, HOST_TOKEN_HEADER, HostTokenSigner, HostTokenVerifier } from '@wrenn/service-kit';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { EnvdProxyServer, startEnvdProxy } from './envd-proxy.server';

const HERE = 'sb_01jz0000000000000000000001';
const ELSEWHERE = 'sb_01jz0000000000000000000002';
/** A sandbox whose envd the agent serves itself (the namespace runtime): answered in process. */
const IN_PROCESS = 'sb_01jz0000000000000000000003';
/** The token this sandbox's envd demands; only the agent holds it. */
const ENVD_TOKEN = 'the-envd-token-of-this-sandbox-only-the-agent-holds';
const HOST = 'host-a';
const gatewayKeys = generateHostTokenKeys();
const gateway = new HostTokenSigner(gatewayKeys.privateKey);
/** Headers of a call the gateway would make: the sandbox and a host token minted for it. */
const call = async (sandboxId: string, extra: Record<string, string> = {}) => ({ 'E2b-Sandbox-Id': sandboxId, [HOST_TOKEN_HEADER]: await gateway.mint(HOST, sandboxId), ...extra });

describe('envd proxy (host agent)', () => {
  let envd: Server;
  let proxy: EnvdProxyServer;
  let seen: IncomingMessage | undefined;
  let received = 0;

  before(async () => {
    // Stands in for one sandbox's envd: answers what it received.
    envd = createServer((req, res) => {
      seen = req;
      received += 1;
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, method: req.method, body })));
    });
    await new Promise<void>((resolve) => envd.listen(0, '127.0.0.1', resolve));
    const envdUrl = `http://127.0.0.1:${(envd.address() as AddressInfo).port}`;
    const locate = async (id: string) => {
      if (id === IN_PROCESS) {
        return {
          baseUrl: 'http://10.0.0.2:49983', // nothing listens there: the handler answers
          accessToken: ENVD_TOKEN,
          handle: async (req: IncomingMessage, res: import('node:http').ServerResponse) => {
            seen = req;
            let body = '';
            for await (const c of req) body += c;
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, method: req.method, body, inProcess: true }));
          },
        };
      }
      if (id !== HERE) throw new Error(`sandbox ${id} is not on this host`);
      return { baseUrl: envdUrl, accessToken: ENVD_TOKEN };
    };
    const tokens = new HostTokenVerifier(HOST, async () => gatewayKeys.publicKey);
    proxy = await startEnvdProxy(locate, tokens, { host: '127.0.0.1', port: 0, advertise: '127.0.0.1' }, createLogger('test'));
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
    const res = await fetch(`${proxy.url}/process.Process/List?x=1`, { method: 'POST', headers: await call(HERE, { 'content-type': 'application/json' }), body: '{}' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { path: '/process.Process/List?x=1', method: 'POST', body: '{}' });
    assert.equal(seen?.headers['e2b-sandbox-id'], HERE);
    assert.equal(seen?.headers[HOST_TOKEN_HEADER], undefined, 'the host token stops at the agent');
  });

  it('puts envd\'s access token on every request, in place of any token the caller sent', async () => {
    for (const sent of [undefined, 'the-sdk-token', '']) {
      seen = undefined;
      const headers: Record<string, string> = await call(HERE, { 'content-type': 'application/json' });
      if (sent !== undefined) headers['X-Access-Token'] = sent;
      const res = await fetch(`${proxy.url}/process.Process/List`, { method: 'POST', headers, body: '{}' });
      assert.equal(res.status, 200);
      assert.equal((seen as IncomingMessage | undefined)?.headers['x-access-token'], ENVD_TOKEN, `caller sent ${sent}`);
    }
  });

  it('hands a sandbox whose envd the agent serves to the in-process handler, tokens swapped the same way', async () => {
    const before = received;
    const res = await fetch(`${proxy.url}/process.Process/List`, { method: 'POST', headers: await call(IN_PROCESS, { 'content-type': 'application/json', 'X-Access-Token': 'the-sdk-token' }), body: '{"a":1}' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { path: '/process.Process/List', method: 'POST', body: '{"a":1}', inProcess: true });
    assert.equal(seen?.headers['x-access-token'], ENVD_TOKEN);
    assert.equal(seen?.headers[HOST_TOKEN_HEADER], undefined, 'the host token stops at the agent');
    assert.equal(received, before, 'no HTTP hop to a sandbox address');
  });

  it('answers 502 for a sandbox that is not on this host, as E2B\'s proxy does', async () => {
    const res = await fetch(`${proxy.url}/health`, { headers: await call(ELSEWHERE) });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { code: number; sandboxId: string };
    assert.equal(body.code, 502);
    assert.equal(body.sandboxId, ELSEWHERE);
  });

  it('answers 400 when the header is missing or not a sandbox id', async () => {
    assert.equal((await fetch(`${proxy.url}/health`)).status, 400);
    assert.equal((await fetch(`${proxy.url}/health`, { headers: { 'E2b-Sandbox-Id': '../etc' } })).status, 400);
  });

  describe('refuses with 401 and reaches no envd', () => {
    const refused = async (headers: Record<string, string>, reason: string) => {
      const before = received;
      const res = await fetch(`${proxy.url}/files?path=/etc/shadow`, { headers });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { reason: string }).reason, reason);
      assert.equal(received, before, 'envd received the call');
    };

    it('a call without a host token', async () => {
      await refused({ 'E2b-Sandbox-Id': HERE }, 'host_token_missing');
    });

    it('a call with an expired token', async () => {
      const stale = await gateway.mint(HOST, HERE, Date.now() - 10 * 60_000);
      await refused({ 'E2b-Sandbox-Id': HERE, [HOST_TOKEN_HEADER]: stale }, 'host_token_expired');
    });

    it('a token minted for another sandbox', async () => {
      await refused({ 'E2b-Sandbox-Id': HERE, [HOST_TOKEN_HEADER]: await gateway.mint(HOST, ELSEWHERE) }, 'host_token_wrong_sandbox');
    });

    it('a token minted for another host', async () => {
      await refused({ 'E2b-Sandbox-Id': HERE, [HOST_TOKEN_HEADER]: await gateway.mint('host-b', HERE) }, 'host_token_wrong_host');
    });

    it('a token signed by another key', async () => {
      const forged = await new HostTokenSigner(generateHostTokenKeys().privateKey).mint(HOST, HERE);
      await refused({ 'E2b-Sandbox-Id': HERE, [HOST_TOKEN_HEADER]: forged }, 'host_token_invalid');
    });

    it('envd\'s own access token instead of a host token', async () => {
      await refused({ 'E2b-Sandbox-Id': HERE, 'X-Access-Token': ENVD_TOKEN }, 'host_token_missing');
    });
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { answerError, forward, forwardableHeaders } from './http-forward';

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** `promise`, or a failure naming `what` when it has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('forward', () => {
  let upstream: { server: Server; url: string };
  let proxy: { server: Server; url: string };
  const agent = new Agent({ keepAlive: true });
  let release: () => void = () => undefined;
  let upstreamClosed: Promise<void> = Promise.resolve();
  let lastHeaders: IncomingMessage['headers'] = {};

  before(async () => {
    upstream = await listen((req, res) => {
      lastHeaders = req.headers;
      if (req.url === '/echo') {
        res.writeHead(201, { 'content-type': 'application/octet-stream', 'x-upstream': 'yes' });
        req.pipe(res);
      } else if (req.url === '/slow') {
        // One chunk now, the rest only when the test says so.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first\n');
        upstreamClosed = new Promise((resolve) => res.on('close', () => resolve()));
        release = () => res.end('second\n');
      } else {
        res.writeHead(404).end();
      }
    });
    proxy = await listen((req, res) => forward(req, res, { baseUrl: upstream.url, headers: forwardableHeaders(req.headers, ['x-secret']), agent }, (e) => answerError(res, 502, e.message)));
  });
  after(async () => {
    agent.destroy();
    await close(proxy.server);
    await close(upstream.server);
  });

  it('streams the request body up and the response down, keeping status and headers', async () => {
    const res = await fetch(`${proxy.url}/echo`, { method: 'POST', body: 'x'.repeat(300_000), headers: { 'x-secret': 'token', 'x-kept': 'kept' } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-upstream'), 'yes');
    assert.equal((await res.text()).length, 300_000);
    assert.equal(lastHeaders['x-kept'], 'kept');
    assert.equal(lastHeaders['x-secret'], undefined, 'dropped headers do not reach upstream');
  });

  it('hands each chunk on as it arrives, before the response ends', async () => {
    const res = await fetch(`${proxy.url}/slow`);
    const reader = res.body!.getReader();
    // Before the response ends: a forward that buffers never hands this on.
    const first = await within(reader.read(), 5000, 'first chunk before the end');
    assert.equal(Buffer.from(first.value!).toString(), 'first\n');
    release();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString();
    assert.equal(rest, 'second\n');
  });

  it('stops the upstream request when the client goes away', async () => {
    await within(
      new Promise<void>((resolve) => {
        const req = request(`${proxy.url}/slow`, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => undefined);
        req.end();
      }),
      5000,
      'first chunk',
    );
    await within(upstreamClosed, 5000, 'close of the upstream request');
  });

  it('answers through onUpstreamError when upstream cannot be reached', async () => {
    const dead = await listen(() => undefined);
    const deadUrl = dead.url;
    await close(dead.server);
    const lonely = await listen((req, res) => forward(req, res, { baseUrl: deadUrl, headers: {}, agent }, (e) => answerError(res, 502, `gone: ${e.message}`)));
    try {
      const res = await fetch(lonely.url);
      assert.equal(res.status, 502);
      const body = (await res.json()) as { code: number; message: string };
      assert.equal(body.code, 502);
      assert.match(body.message, /^gone: /);
    } finally {
      await close(lonely.server);
    }
  });

  it('drops hop-by-hop headers, including those named in Connection', () => {
    const out = forwardableHeaders({ connection: 'keep-alive, x-hop', 'keep-alive': 'timeout=5', 'x-hop': '1', 'transfer-encoding': 'chunked', host: 'a', 'content-type': 'application/json' });
    assert.deepEqual(out, { 'content-type': 'application/json' });
  });
});

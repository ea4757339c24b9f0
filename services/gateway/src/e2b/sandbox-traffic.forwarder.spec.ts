import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { AddressInfo } from 'node:net';
import { createLogger } from '@wrenn/logger';
import { naming } from '@wrenn/contracts';
import { SandboxTrafficForwarder } from './sandbox-traffic.forwarder';

const ID = 'sb_0123456789abcdefghijklmnop';

/** A proxy whose sandbox lookup fails the way a database can, behind a valid token. */
function proxyWithFailingLookup(): SandboxTrafficForwarder {
  const sandboxes = { findById: async () => { throw new Error('connection to 10.0.0.5:5432 (user wrenn_admin) terminated'); } };
  const tokens = { matches: () => true };
  const activity = { hold: () => () => undefined };
  const running = { get: () => undefined, remember: () => undefined, forget: () => undefined };
  const log = createLogger('test');
  log.level = 'silent';
  return new SandboxTrafficForwarder(sandboxes as never, tokens as never, {} as never, activity as never, running as never, {} as never, naming(''), log);
}

describe(SandboxTrafficForwarder.name, () => {
  it('answers an unexpected failure as 500 without the failure text', async () => {
    const proxy = proxyWithFailingLookup();
    const server = createServer((req, res) => proxy.handle(req, res)).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/health', headers: { 'e2b-sandbox-id': ID, 'x-access-token': 't' } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
        req.on('error', reject);
        req.end();
      });
      assert.equal(answer.status, 500);
      assert.ok(!answer.body.includes('wrenn_admin') && !answer.body.includes('10.0.0.5'), answer.body);
    } finally {
      server.close();
      proxy.onApplicationShutdown();
    }
  });
});

import { Code, ConnectError } from '@connectrpc/connect';
import assert from 'node:assert/strict';
import { createServer, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EnvdClient } from './envd.client';
import { initEnvdAccessToken } from './envd-token';

/**
 * A stand-in envd that refuses every call with an error body of 256 MiB (JSON that never
 * closes), written as fast as the reader takes it. It counts what it managed to send.
 */
const HUGE = 256 * 1024 * 1024;
const BOUND = 64 * 1024;

function flood(res: ServerResponse, sent: { bytes: number; closed: Promise<void> }): void {
  res.writeHead(500, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  res.write('{"message":"');
  const pump = () => {
    while (sent.bytes < HUGE && !res.destroyed) {
      sent.bytes += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end('"}');
  };
  pump();
}

describe('envd answers are read to a bound (a stand-in envd with a 256 MiB error body)', () => {
  let server: Server;
  let url: string;
  let last: { bytes: number; closed: Promise<void> };
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
      last = { bytes: 0, closed };
      req.once('end', () => flood(res, last));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const bounded = (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, Code.Internal);
    assert.match(error.message, /cut at 65536 bytes/);
    assert.ok(error.message.length < 2048, `the error carries ${error.message.length} characters`);
    return true;
  };

  it('a download\'s error: the caller gets a short error and the reader stops, not the whole body', async () => {
    const client = new EnvdClient(url, 'token', BOUND);
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      await assert.rejects(client.download('/big'), bounded);
      await last.closed; // the agent hung up: envd's stand-in could not go on writing
      assert.ok(last.bytes < 32 * 1024 * 1024, `the stand-in wrote ${last.bytes} bytes before the agent hung up`);
      assert.ok(process.memoryUsage().heapUsed - heapBefore < 32 * 1024 * 1024);
    } finally {
      client.close();
    }
  });

  it('an upload\'s error likewise', async () => {
    const client = new EnvdClient(url, 'token', BOUND);
    try {
      await assert.rejects(client.upload('/f', Readable.from([Buffer.from('hello')])), bounded);
      await last.closed;
      assert.ok(last.bytes < 32 * 1024 * 1024, `the stand-in wrote ${last.bytes} bytes`);
    } finally {
      client.close();
    }
  });

  it('envd refusing a token at /init: the agent reads a bounded part and says so by status', async () => {
    await assert.rejects(initEnvdAccessToken(url, 'new', undefined, 10_000, BOUND), /envd refused its access token: 500$/);
    await last.closed;
    assert.ok(last.bytes < 32 * 1024 * 1024, `the stand-in wrote ${last.bytes} bytes`);
  });
});

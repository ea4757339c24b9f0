import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { createLogger } from '@wrenn/logger';
import { dataPlanePb } from '@wrenn/proto';
import { generateHostTokenKeys, HOST_TOKEN_HEADER, HostTokenSigner, HostTokenVerifier } from '@wrenn/service-kit';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { SandboxOrchestrator } from '../sandbox/sandbox-orchestrator';
import { DataPlaneServer, pageOf, startDataPlane } from './data-plane.server';

const HOST = 'host-a';
const HERE = 'sb_01jz0000000000000000000001';
const OTHER = 'sb_01jz0000000000000000000002';
const gatewayKeys = generateHostTokenKeys();
const gateway = new HostTokenSigner(gatewayKeys.privateKey);

/**
 * Stands in for the orchestrator behind the real data-plane server and records every use, so a
 * refused call can be shown to have done nothing: no exec, no envd looked up.
 */
function recordingOrchestrator() {
  const used: string[] = [];
  const envd = {
    listDir: async () => [{ name: 'hello.txt', path: '/home/user/hello.txt', type: 1, size: 5n, mode: 0o644 }],
    upload: async (path: string, chunks: AsyncIterable<Uint8Array>) => {
      let size = 0;
      for await (const chunk of chunks) size += chunk.length;
      used.push(`upload ${path} ${size}`);
      return { path, size };
    },
    download: async (path: string) => {
      const data = path === '/big' ? Buffer.alloc(256 * 1024, 'a') : Buffer.from('hello');
      return { size: data.length, stream: Readable.from([data]) };
    },
  };
  const orchestrator = {
    exec: async (request: { sandboxId: string; cmd: string }) => {
      used.push(`exec ${request.sandboxId} ${request.cmd}`);
      return { stdout: 'ran\n', stderr: '', exitCode: 0, timedOut: false, truncated: false, durationMs: 1 };
    },
    envd: async (sandboxId: string) => {
      used.push(`envd ${sandboxId}`);
      return envd;
    },
  };
  return { orchestrator: orchestrator as unknown as SandboxOrchestrator, used };
}

describe('data plane (host agent): every call needs a host token', () => {
  let server: DataPlaneServer;
  let sessions: Http2SessionManager;
  let client: ReturnType<typeof createClient<typeof dataPlanePb.DataPlane>>;
  const { orchestrator, used } = recordingOrchestrator();

  before(async () => {
    const tokens = new HostTokenVerifier(HOST, async () => gatewayKeys.publicKey);
    server = await startDataPlane(orchestrator, tokens, { host: '127.0.0.1', port: 0, advertise: '127.0.0.1' }, createLogger('test'));
    sessions = new Http2SessionManager(server.url);
    client = createClient(dataPlanePb.DataPlane, createConnectTransport({ baseUrl: server.url, httpVersion: '2', sessionManager: sessions }));
  });
  after(async () => {
    sessions.abort();
    await server.close();
  });

  const headersWith = (token: string | undefined) => (token === undefined ? {} : { [HOST_TOKEN_HEADER]: token });

  /** Every method of the data plane, called for HERE with the given token. */
  const calls = (token: string | undefined): Record<string, () => Promise<unknown>> => {
    const headers = headersWith(token);
    return {
      exec: () => client.exec({ sandboxId: HERE, timeoutSec: 5, process: { cmd: '/bin/echo', args: ['hi'] } }, { headers }),
      execStream: async () => {
        const input = (async function* () {
          yield create(dataPlanePb.ExecStreamRequestSchema, { msg: { case: 'start', value: { sandboxId: HERE, process: { cmd: '/bin/echo' } } } });
        })();
        for await (const _ of client.execStream(input, { headers })) void _;
      },
      writeFile: () => client.writeFile({ sandboxId: HERE, path: '/tmp/x', data: Buffer.from('x') }, { headers }),
      streamWriteFile: () =>
        client.streamWriteFile(
          (async function* () {
            yield create(dataPlanePb.StreamWriteFileRequestSchema, { msg: { case: 'header', value: { sandboxId: HERE, path: '/tmp/y' } } });
            yield create(dataPlanePb.StreamWriteFileRequestSchema, { msg: { case: 'chunk', value: Buffer.from('data') } });
          })(),
          { headers },
        ),
      readFile: () => client.readFile({ sandboxId: HERE, path: '/etc/shadow' }, { headers }),
      streamReadFile: async () => {
        for await (const _ of client.streamReadFile({ sandboxId: HERE, path: '/etc/shadow' }, { headers })) void _;
      },
      listDir: () => client.listDir({ sandboxId: HERE, path: '/' }, { headers }),
    };
  };

  async function assertRefused(call: () => Promise<unknown>, reason: string, what: string): Promise<void> {
    const before = used.length;
    const error = await call().then(
      () => assert.fail(`${what}: accepted`),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(error.code, Code.Unauthenticated, `${what}: ${error.message}`);
    assert.equal(error.metadata.get('wrenn-host-token-refused'), reason, what);
    assert.deepEqual(used.slice(before), [], `${what}: the call reached the sandbox`);
  }

  it('answers a call with a token for this host and sandbox', async () => {
    const token = await gateway.mint(HOST, HERE);
    const res = await client.exec({ sandboxId: HERE, timeoutSec: 5, process: { cmd: '/bin/echo', args: ['hi'] } }, { headers: headersWith(token) });
    assert.equal(Buffer.from(res.stdout).toString(), 'ran\n');
    const listing = await client.listDir({ sandboxId: HERE, path: '/home/user' }, { headers: headersWith(token) });
    assert.deepEqual(listing.entries.map((e) => e.name), ['hello.txt']);
    await calls(token).streamWriteFile();
    assert.ok(used.includes(`upload /tmp/y 4`), used.join(', '));
  });

  it('sends a large answer as it is, to a client that would take it gzipped (no CPU spent compressing)', async () => {
    const token = await gateway.mint(HOST, HERE);
    let encoding: string | null = 'not seen';
    const gzipTaking = createClient(
      dataPlanePb.DataPlane,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: '2',
        sessionManager: sessions,
        interceptors: [
          (next) => async (req) => {
            const res = await next(req);
            encoding = res.header.get('content-encoding');
            return res;
          },
        ],
      }),
    );
    const read = await gzipTaking.readFile({ sandboxId: HERE, path: '/big' }, { headers: headersWith(token) });
    assert.equal(read.data.length, 256 * 1024);
    assert.equal(encoding, null);
  });

  it('refuses every method without a token, and does nothing', async () => {
    for (const [name, call] of Object.entries(calls(undefined))) await assertRefused(call, 'host_token_missing', name);
  });

  it('refuses every method with a token for another sandbox, and does nothing', async () => {
    const token = await gateway.mint(HOST, OTHER);
    for (const [name, call] of Object.entries(calls(token))) await assertRefused(call, 'host_token_wrong_sandbox', name);
  });

  it('refuses an expired token, one for another host and one signed by another key', async () => {
    const expired = await gateway.mint(HOST, HERE, Date.now() - 5 * 60_000);
    const otherHost = await gateway.mint('host-b', HERE);
    const forged = await new HostTokenSigner(generateHostTokenKeys().privateKey).mint(HOST, HERE);
    for (const [name, call] of Object.entries(calls(expired))) await assertRefused(call, 'host_token_expired', `${name} (expired)`);
    for (const [name, call] of Object.entries(calls(otherHost))) await assertRefused(call, 'host_token_wrong_host', `${name} (other host)`);
    for (const [name, call] of Object.entries(calls(forged))) await assertRefused(call, 'host_token_invalid', `${name} (other key)`);
  });

  it('listens only on the address it was given', async () => {
    const port = Number(new URL(server.url).port);
    // 127.0.0.2 is this machine too (all of 127/8 is loopback), but not the configured address.
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.2', port });
      socket.once('connect', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    assert.equal(outcome, 'ECONNREFUSED');
  });
});

describe('directory pages', () => {
  const entries = ['/d/c', '/d/a', '/d/e', '/d/b', '/d/d'].map((path) => ({ path }));
  it('hands out entries in path order, a page at a time, each starting after the last of the one before', () => {
    const first = pageOf(entries, 2, '');
    assert.deepEqual(first, { entries: [{ path: '/d/a' }, { path: '/d/b' }], nextAfter: '/d/b' });
    const second = pageOf(entries, 2, first.nextAfter);
    assert.deepEqual(second, { entries: [{ path: '/d/c' }, { path: '/d/d' }], nextAfter: '/d/d' });
    assert.deepEqual(pageOf(entries, 2, second.nextAfter), { entries: [{ path: '/d/e' }], nextAfter: '' });
    assert.deepEqual(pageOf(entries, 5, ''), { entries: [...entries].sort((a, b) => (a.path < b.path ? -1 : 1)), nextAfter: '' }, 'exactly a page: no next');
  });
  it('skips nothing when an entry before the cursor goes away between pages', () => {
    const first = pageOf(entries, 2, '');
    const fewer = entries.filter((e) => e.path !== '/d/a');
    assert.deepEqual(pageOf(fewer, 2, first.nextAfter).entries, [{ path: '/d/c' }, { path: '/d/d' }]);
  });
});

import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { HOST_TOKEN_HEADER, HostTokenError, HostTokenErrorCode, HostTokenVerifier, processTimers } from '@wrenn/service-kit';
import { dataPlanePb, filesystemPb } from '@wrenn/proto';
import { createServer, Http2Server, ServerHttp2Session } from 'node:http2';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { exitCodeOf } from '../envd-client/envd.client';
import { SandboxOrchestrator } from '../sandbox/sandbox-orchestrator';

const { DataPlane, ExecStreamResponseSchema, FileChunkSchema } = dataPlanePb;
/** ReadFile answers in one message; a file larger than this goes through StreamReadFile. */
const READ_FILE_MAX = 64 * 1024 * 1024;

/** The header that carries Wrenn's own error code across the data plane. */
export const ERROR_CODE_HEADER = 'wrenn-error-code';
/** Set on an `unauthenticated` answer: why the caller's host token was refused. */
export const HOST_TOKEN_REFUSED_HEADER = 'wrenn-host-token-refused';

/**
 * Errors as they leave the data plane. Wrenn's typed errors keep their code in a header the
 * gateway maps back; envd's Connect errors keep code and message but not their metadata (HTTP/1
 * response headers such as keep-alive, which HTTP/2 forbids and which would break the reply).
 */
function toConnect(error: unknown): never {
  if (error instanceof HostTokenError) throw new ConnectError(error.message, Code.Unauthenticated, { [HOST_TOKEN_REFUSED_HEADER]: error.code });
  if (error instanceof WrennError) {
    const code = error.code === 'sandbox_not_found' ? Code.NotFound : error.code === 'validation_failed' ? Code.InvalidArgument : Code.FailedPrecondition;
    throw new ConnectError(error.message, code, { [ERROR_CODE_HEADER]: error.code });
  }
  if (error instanceof ConnectError) throw new ConnectError(error.rawMessage, error.code);
  throw error;
}

/** Applies toConnect to every method of a service, unary and streaming alike. */
function withCleanErrors<T extends object>(impl: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(impl)) {
    const method = fn as (...args: unknown[]) => unknown;
    wrapped[name] =
      method.constructor.name === 'AsyncGeneratorFunction'
        ? async function* (...args: unknown[]) {
            try {
              yield* method(...args) as AsyncGenerator;
            } catch (error) {
              toConnect(error);
            }
          }
        : async (...args: unknown[]) => {
            try {
              return await method(...args);
            } catch (error) {
              return toConnect(error);
            }
          };
  }
  return wrapped as T;
}

const TYPE_NAMES: Record<number, string> = {
  [filesystemPb.FileType.FILE]: 'file',
  [filesystemPb.FileType.DIRECTORY]: 'dir',
  [filesystemPb.FileType.SYMLINK]: 'symlink',
};

/**
 * The host agent's data plane for the gateway (Connect RPC over HTTP/2, so ExecStream can be
 * bidirectional): commands and files of the sandboxes on this host, proxied to each one's envd.
 * Nothing here is buffered whole: file bodies flow chunk by chunk with HTTP/2 flow control.
 */
export function dataPlaneService(orchestrator: SandboxOrchestrator, tokens: HostTokenVerifier): ServiceImpl<typeof DataPlane> {
  const envdOf = (sandboxId: string) => orchestrator.envd(sandboxId);
  // Every call carries a host token for the sandbox it addresses; it is checked before anything
  // is looked up or done. Streams are checked up front for a token and, once their first message
  // names the sandbox, for that sandbox.
  const authorize = (ctx: HandlerContext, sandboxId: string) => tokens.verify(ctx.requestHeader.get(HOST_TOKEN_HEADER), sandboxId);
  const requireToken = (ctx: HandlerContext) => {
    if (!ctx.requestHeader.get(HOST_TOKEN_HEADER)) throw new HostTokenError(HostTokenErrorCode.Missing, `no ${HOST_TOKEN_HEADER}`);
  };
  return withCleanErrors<ServiceImpl<typeof DataPlane>>({
    async exec(req, ctx) {
      await authorize(ctx, req.sandboxId);
      const p = req.process;
      if (!p) throw new ConnectError('process is required', Code.InvalidArgument);
      const result = await orchestrator
        .exec({ sandboxId: req.sandboxId, cmd: p.cmd, args: p.args, env: p.env, cwd: p.cwd || undefined, user: p.user || undefined, timeoutSec: req.timeoutSec || 60 });
      return {
        stdout: Buffer.from(result.stdout),
        stderr: Buffer.from(result.stderr),
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        truncated: result.truncated,
        durationMs: result.durationMs,
      };
    },

    async *execStream(requests, ctx) {
      requireToken(ctx);
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.msg.case !== 'start') throw new ConnectError('the first message must be start', Code.InvalidArgument);
      const start = first.value.msg.value;
      await authorize(ctx, start.sandboxId);
      const p = start.process;
      if (!p?.cmd) throw new ConnectError('process.cmd is required', Code.InvalidArgument);
      const envd = await envdOf(start.sandboxId);
      const abort = new AbortController();
      let pid: number | undefined;
      let timedOut = false;
      // On the process's timer queue: a thousand open streams cost one Node timer.
      const timer = start.timeoutSec > 0
        ? processTimers().schedule(start.timeoutSec * 1000, () => {
            timedOut = true;
            if (pid !== undefined) void envd.signal(pid, 'SIGKILL').catch(() => abort.abort());
            else abort.abort();
          })
        : undefined;
      const pty = p.pty ? { cols: p.cols || 80, rows: p.rows || 24 } : undefined;
      // Client messages after start drive the running process; they arrive while we stream out.
      let pidReady!: (pid: number) => void;
      const pidKnown = new Promise<number>((resolve) => (pidReady = resolve));
      const inbound = (async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          const target = await pidKnown;
          const msg = next.value.msg;
          if (msg.case === 'stdin') await envd.sendInput(target, msg.value, !!pty);
          else if (msg.case === 'resize' && pty) await envd.resize(target, msg.value.cols, msg.value.rows);
          else if (msg.case === 'signal') await envd.signal(target, msg.value === 'SIGTERM' ? 'SIGTERM' : 'SIGKILL');
          else if (msg.case === 'closeStdin' && !pty) await envd.closeStdin(target);
        }
      })().catch(() => undefined);
      try {
        for await (const res of envd.start({ cmd: p.cmd, args: p.args, env: p.env, cwd: p.cwd || undefined, user: p.user || 'root' }, { stdin: true, pty, signal: abort.signal })) {
          const event = res.event?.event;
          if (event?.case === 'start') {
            pid = event.value.pid;
            pidReady(pid);
            yield create(ExecStreamResponseSchema, { msg: { case: 'startedPid', value: pid } });
          } else if (event?.case === 'data') {
            const out = event.value.output;
            if (out.case === 'stderr') yield create(ExecStreamResponseSchema, { msg: { case: 'stderr', value: out.value } });
            else if (out.value) yield create(ExecStreamResponseSchema, { msg: { case: 'stdout', value: out.value } });
          } else if (event?.case === 'end') {
            yield create(ExecStreamResponseSchema, { msg: { case: 'exit', value: { exitCode: exitCodeOf(event.value), timedOut, error: event.value.error ?? '' } } });
          }
        }
      } catch (error) {
        if (!timedOut) throw error;
        yield create(ExecStreamResponseSchema, { msg: { case: 'exit', value: { exitCode: 137, timedOut: true, error: '' } } });
      } finally {
        timer?.cancel();
        void inbound;
      }
    },

    async writeFile(req, ctx) {
      await authorize(ctx, req.sandboxId);
      const envd = await envdOf(req.sandboxId);
      const result = await envd.upload(req.path, Readable.from([req.data]), req.user || 'root');
      return { path: result.path, size: BigInt(result.size) };
    },

    async streamWriteFile(requests, ctx) {
      requireToken(ctx);
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.msg.case !== 'header') throw new ConnectError('the first message must be the header', Code.InvalidArgument);
      const header = first.value.msg.value;
      await authorize(ctx, header.sandboxId);
      const envd = await envdOf(header.sandboxId);
      const chunks = (async function* () {
        if (header.data.length) yield header.data;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          if (next.value.msg.case === 'chunk') yield next.value.msg.value;
        }
      })();
      const result = await envd.upload(header.path, chunks, header.user || 'root');
      return { path: result.path, size: BigInt(result.size) };
    },

    async readFile(req, ctx) {
      await authorize(ctx, req.sandboxId);
      const envd = await envdOf(req.sandboxId);
      const { size, stream } = await envd.download(req.path, req.user || 'root');
      const tooLarge = () => new ConnectError('file too large for ReadFile: use StreamReadFile', Code.ResourceExhausted);
      if (size > READ_FILE_MAX) {
        stream.destroy();
        throw tooLarge();
      }
      // Counted as it comes too: an answer without a length (or a wrong one) is held to the same bound.
      const chunks: Buffer[] = [];
      let read = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        read += chunk.length;
        if (read > READ_FILE_MAX) {
          stream.destroy();
          throw tooLarge();
        }
        chunks.push(chunk);
      }
      return { data: Buffer.concat(chunks) };
    },

    async *streamReadFile(req, ctx) {
      await authorize(ctx, req.sandboxId);
      const envd = await envdOf(req.sandboxId);
      const { stream } = await envd.download(req.path, req.user || 'root');
      try {
        for await (const chunk of stream) yield create(FileChunkSchema, { data: chunk as Buffer });
      } finally {
        stream.destroy();
      }
    },

    async listDir(req, ctx) {
      await authorize(ctx, req.sandboxId);
      const envd = await envdOf(req.sandboxId);
      const listed = await envd.listDir(req.path, req.depth || 1, req.user || 'root');
      const { entries, nextAfter } = pageOf(listed, req.limit, req.after);
      return {
        nextAfter,
        entries: entries.map((e) => ({
          name: e.name,
          path: e.path,
          type: TYPE_NAMES[e.type] ?? 'unknown',
          size: BigInt(e.size),
          mode: e.mode,
          modifiedAt: e.modifiedTime ? new Date(Number(e.modifiedTime.seconds) * 1000 + Math.floor(e.modifiedTime.nanos / 1e6)).toISOString() : '',
          symlinkTarget: e.symlinkTarget ?? '',
        })),
      };
    },
  });
}

/**
 * One page of a listing: entries in the order of their paths (code units, the same on every
 * call), those after `after`, at most `limit` (0: all). The next page starts after this page's
 * last path, so entries added or removed between calls shift nothing already seen.
 */
export function pageOf<T extends { path: string }>(entries: T[], limit: number, after: string): { entries: T[]; nextAfter: string } {
  const sorted = entries.filter((e) => !after || e.path > after).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (!limit || sorted.length <= limit) return { entries: sorted, nextAfter: '' };
  const page = sorted.slice(0, limit);
  return { entries: page, nextAfter: page[page.length - 1].path };
}

export interface DataPlaneServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The data plane's request handler: Connect's binary protocol on Node's HTTP/2. Nothing is
 * compressed either way: the gateway is on the hosts' own network, where gzip of a large answer
 * (a command's megabyte of output, a file of up to 64 MiB) costs the agent far more CPU and time
 * than sending it as it is.
 */
export function dataPlaneHandler(orchestrator: SandboxOrchestrator, tokens: HostTokenVerifier): ReturnType<typeof connectNodeAdapter> {
  return connectNodeAdapter({ routes: (router) => router.service(DataPlane, dataPlaneService(orchestrator, tokens)), acceptCompression: [] });
}

/**
 * Serves the data plane on HTTP/2 cleartext (h2c) on the configured address only; the URL goes
 * into the heartbeat.
 */
export async function startDataPlane(orchestrator: SandboxOrchestrator, tokens: HostTokenVerifier, options: { host: string; port: number; advertise: string }, log: Logger): Promise<DataPlaneServer> {
  const server: Http2Server = createServer(dataPlaneHandler(orchestrator, tokens));
  server.on('sessionError', (error) => log.debug({ err: error }, 'data plane session error'));
  // Clients keep HTTP/2 sessions open (and ping them); close() must end them or it never returns.
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.advertise}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) {
          session.close();
          setTimeout(() => session.destroy(), 2000).unref();
        }
      }),
  };
}

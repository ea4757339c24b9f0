import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, ConnectRouter, createHandlerContext, createRouterTransport, Interceptor, Transport } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { filesystemPb, processPb } from '@wrenn/proto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { ACCESS_TOKEN_HEADER, AccessToken, RefusalReason, refuse } from './access-token';
import { downloadFile, uploadFile } from './files/files.handler';
import { filesystemService } from './filesystem/filesystem.service';
import { DEFAULT_PATH, ProcessManager } from './process/process-manager';
import { processService } from './process/process.service';
import { LocalSystem } from './system/local-system';
import type { SandboxSystem } from './system/sandbox-system';
import { Users } from './users';

export { AccessToken } from './access-token';
export { LocalSystem } from './system/local-system';
export type * from './system/sandbox-system';
export { SystemError } from './system/sandbox-system';

/**
 * What one sandbox's envd remembers between requests, apart from its running processes: the
 * access token, the default user and the env vars POST /init set. Small and plain, so a host
 * that serves many sandboxes keeps it for each of them while it drops idle instances.
 */
export interface EnvdState {
  token: AccessToken;
  envVars: Record<string, string>;
  defaultUser?: string;
}

export function newEnvdState(options: { accessToken?: string; defaultUser?: string } = {}): EnvdState {
  return { token: new AccessToken(options.accessToken), envVars: {}, defaultUser: options.defaultUser };
}

/** One sandbox's envd as a request handler, with no HTTP server of its own. */
export interface EnvdInstance {
  /** Answers one request of E2B's envd protocol (never rejects: failures are answered). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /**
   * The Connect services (process, filesystem) for a caller in this same process: no HTTP and no
   * socket, the same handlers and the same access token check as `handle`. File contents
   * (/files) are plain HTTP and stay with `handle`.
   */
  readonly transport: Transport;
  /**
   * process.Process/Start with no Connect in between, for a caller in this same process: the
   * service's own handler, under the same token check, its events as Start streams them (an
   * abort before the end fails as Canceled, as a Connect stream does). What a host's exec takes:
   * the in-memory transport's framing and stream plumbing cost about a millisecond per call.
   */
  startProcess(request: processPb.StartRequest, header: Headers, signal?: AbortSignal): AsyncIterable<processPb.StartResponse>;
  processes: ProcessManager;
  /** Running processes, open watchers or requests in flight: dropping it now would lose something. */
  readonly busy: boolean;
  /** Kills its processes and closes its watchers. */
  close(): Promise<void>;
}

export interface EnvdInstanceOptions {
  /** How envd reaches the sandbox: LocalSystem inside it, InitSystem from the host. */
  system: SandboxSystem;
  state: EnvdState;
  /** PATH of the processes it starts (default: the usual Debian PATH). */
  path?: string;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 1 << 20) throw new Error('body too large');
  }
  return body ? (JSON.parse(body) as Record<string, unknown>) : {};
}

/**
 * envd's protocol for one sandbox (E2B's SDKs speak Connect over plain fetch): the Connect
 * services process.Process and filesystem.Filesystem, plus /health, /files, /init and /envs.
 *
 * Every request but GET /health must carry the access token (X-Access-Token): envd starts
 * processes as any user, so without it any process in the sandbox could become root through it.
 * /health stays open because it says nothing but "envd is up" (204, no body). Until a token is
 * set only the first POST /init, which must bring one, passes; a later /init needs the current
 * token to change it.
 */
export function createEnvdInstance(options: EnvdInstanceOptions): EnvdInstance {
  const { system, state } = options;
  const users = new Users(system, state);
  const processes = new ProcessManager(system, options.path ?? DEFAULT_PATH);
  const filesystem = filesystemService(system, users);
  const files = { system, users };
  let inFlight = 0;
  const processImpl = processService(processes, users, () => state.envVars);
  const routes = (router: ConnectRouter) => {
    router.service(processPb.Process, processImpl);
    router.service(filesystemPb.Filesystem, filesystem.impl);
  };
  const connect = connectNodeAdapter({ routes });
  // Built on first use: envd in a guest, reached over HTTP only, never needs it.
  let transport: Transport | undefined;
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://envd');
    if (url.pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(204).end();
      return;
    }
    // The host's first /init of a VM's envd brings the token; nothing else passes before it.
    const firstInit = !state.token.isSet && url.pathname === '/init' && req.method === 'POST';
    const refusal = firstInit ? undefined : state.token.check(req);
    if (refusal) return refuse(req, res, refusal);
    if (url.pathname === '/files' && req.method === 'GET') return downloadFile(files, req, res, url);
    if (url.pathname === '/files' && (req.method === 'POST' || req.method === 'PUT')) return uploadFile(files, req, res, url);
    if (url.pathname === '/init' && req.method === 'POST') {
      const body = await readJson(req);
      if (typeof body.accessToken === 'string' && body.accessToken) state.token.set(body.accessToken);
      else if (firstInit) return refuse(req, res, 'access_token_not_set');
      if (body.envVars && typeof body.envVars === 'object') Object.assign(state.envVars, body.envVars);
      if (typeof body.defaultUser === 'string') state.defaultUser = body.defaultUser || undefined;
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/envs' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state.envVars));
      return;
    }
    connect(req, res);
  };
  return {
    processes,
    get transport() {
      transport ??= countedTransport(createRouterTransport(routes, { router: { interceptors: [demandToken(state.token)] } }), {
        begin: () => inFlight++,
        end: () => inFlight--,
      });
      return transport;
    },
    startProcess(request, header, signal) {
      return (async function* () {
        const refusal = state.token.checkValue(header.get(ACCESS_TOKEN_HEADER));
        if (refusal) throw refusedCall(refusal);
        const ctx = createHandlerContext({
          service: processPb.Process,
          method: processPb.Process.method.start,
          protocolName: 'in-process',
          requestMethod: 'POST',
          url: '/process.Process/Start',
          requestHeader: header,
          requestSignal: signal,
        });
        let ended = false;
        inFlight++;
        try {
          for await (const message of processImpl.start(request, ctx)) {
            const response = create(processPb.StartResponseSchema, message);
            if (response.event?.event.case === 'end') ended = true;
            yield response;
          }
          if (signal?.aborted && !ended) throw new ConnectError('the call was aborted', Code.Canceled);
        } finally {
          inFlight--;
          ctx.abort();
        }
      })();
    },
    get busy() {
      return inFlight > 0 || processes.size > 0 || filesystem.watching > 0;
    },
    handle(req, res) {
      inFlight++;
      res.once('close', () => inFlight--);
      route(req, res).catch((error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 500, message: String(error?.message ?? error) }));
        else res.destroy();
      });
    },
    async close() {
      processes.killAll();
      await filesystem.close();
    },
  };
}

/** A refused call in a Connect client's terms: what it reads from the socket's 401. */
function refusedCall(reason: RefusalReason): ConnectError {
  return new ConnectError(reason === 'access_token_not_set' ? 'envd has no access token yet' : 'missing or invalid X-Access-Token', Code.Unauthenticated);
}

/**
 * The access token check of `handle` for calls that come without HTTP: a call that lacks the
 * current token is refused before any handler runs, as Unauthenticated (what a Connect client
 * reads from the socket's 401).
 */
function demandToken(token: AccessToken): Interceptor {
  return (next) => async (req) => {
    const refusal = token.checkValue(req.header.get(ACCESS_TOKEN_HEADER));
    if (refusal) throw refusedCall(refusal);
    return next(req);
  };
}

/**
 * A transport that counts its calls in flight (a stream's until its last message is read or the
 * reader stops), so an instance with a call running is never taken for idle.
 */
function countedTransport(inner: Transport, count: { begin(): void; end(): void }): Transport {
  return {
    async unary(...args) {
      count.begin();
      try {
        return await inner.unary(...args);
      } finally {
        count.end();
      }
    },
    async stream(...args) {
      count.begin();
      let response;
      try {
        response = await inner.stream(...args);
      } catch (error) {
        count.end();
        throw error;
      }
      // Ends once: at the last message, a failure, or the reader stopping (even before its first read).
      let open = true;
      const finish = () => {
        if (open) count.end();
        open = false;
      };
      const messages = response.message[Symbol.asyncIterator]();
      const counted: AsyncIterator<unknown> = {
        next: async () => {
          try {
            const next = await messages.next();
            if (next.done) finish();
            return next;
          } catch (error) {
            finish();
            throw error;
          }
        },
        return: async (value?: unknown) => {
          finish();
          return messages.return ? messages.return(value) : { done: true, value };
        },
      };
      return { ...response, message: { [Symbol.asyncIterator]: () => counted } } as typeof response;
    },
  };
}

export interface Envd {
  server: Server;
  processes: ProcessManager;
  close(): Promise<void>;
}

/**
 * envd with its own HTTP/1.1 server, as it runs inside a sandbox (a Firecracker guest): one
 * instance on LocalSystem. The token comes from `options.accessToken`, else from the first
 * POST /init that carries one.
 */
export function createEnvd(options: { accessToken?: string; defaultUser?: string; path?: string; system?: SandboxSystem } = {}): Envd {
  const system = options.system ?? new LocalSystem();
  const instance = createEnvdInstance({ system, state: newEnvdState(options), path: options.path });
  const server = createServer((req, res) => instance.handle(req, res));
  // Streams (process output, watchers) may stay open for hours.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  return {
    server,
    processes: instance.processes,
    close: () =>
      new Promise<void>((resolve) => {
        void instance.close().then(() => system.close());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

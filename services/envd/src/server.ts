import { connectNodeAdapter } from '@connectrpc/connect-node';
import { filesystemPb, processPb } from '@wrenn/proto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AccessToken, refuse } from './access-token';
import { setDefaultUser, takeAccessTokenFromEnv } from './envd-config';
import { downloadFile, uploadFile } from './files/files.handler';
import { filesystemService } from './filesystem/filesystem.service';
import { ProcessManager } from './process/process-manager';
import { processService } from './process/process.service';

export interface Envd {
  server: Server;
  processes: ProcessManager;
  close(): Promise<void>;
}

/** Settings a host may push after start (E2B's POST /init): env vars, defaults. */
interface InitState {
  envVars: Record<string, string>;
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
 * envd's HTTP/1.1 server (E2B's SDKs speak Connect over plain fetch): the Connect services
 * process.Process and filesystem.Filesystem, plus /health, /files, /init and /envs.
 *
 * Every request but GET /health must carry the access token (X-Access-Token): envd runs as root
 * and starts processes as any user, so without it any process in the sandbox could become root
 * through it. /health stays open because it says nothing but "envd is up" (204, no body), which
 * anyone inside can learn by connecting to the port anyway, and the host polls it before it may
 * hand a VM's envd its token. The token comes from `options.accessToken`, else from the
 * environment at start (ENVD_ACCESS_TOKEN, then removed from it), else from the first
 * POST /init that carries one; a later /init needs the current token to change it.
 */
export function createEnvd(options: { accessToken?: string } = {}): Envd {
  const processes = new ProcessManager();
  const state: InitState = { envVars: {} };
  const token = new AccessToken(options.accessToken ?? takeAccessTokenFromEnv());
  const connect = connectNodeAdapter({
    routes: (router) => {
      router.service(processPb.Process, processService(processes, () => state.envVars));
      router.service(filesystemPb.Filesystem, filesystemService());
    },
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://envd');
    if (url.pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(204).end();
      return;
    }
    // The host's first /init of a VM's envd brings the token; nothing else passes before it.
    const firstInit = !token.isSet && url.pathname === '/init' && req.method === 'POST';
    const refusal = firstInit ? undefined : token.check(req);
    if (refusal) return refuse(req, res, refusal);
    if (url.pathname === '/files' && req.method === 'GET') return downloadFile(req, res, url);
    if (url.pathname === '/files' && (req.method === 'POST' || req.method === 'PUT')) return uploadFile(req, res, url);
    if (url.pathname === '/init' && req.method === 'POST') {
      const body = await readJson(req);
      if (typeof body.accessToken === 'string' && body.accessToken) token.set(body.accessToken);
      else if (firstInit) return refuse(req, res, 'access_token_not_set');
      if (body.envVars && typeof body.envVars === 'object') Object.assign(state.envVars, body.envVars);
      if (typeof body.defaultUser === 'string') setDefaultUser(body.defaultUser);
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/envs' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state.envVars));
      return;
    }
    connect(req, res);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 500, message: String(error?.message ?? error) }));
    });
  });
  // Streams (process output, watchers) may stay open for hours.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  return {
    server,
    processes,
    close: () =>
      new Promise<void>((resolve) => {
        processes.killAll();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import { connectNodeAdapter } from '@connectrpc/connect-node';
import { filesystemPb, processPb } from '@wrenn/proto';
import { timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { downloadFile, uploadFile } from './files/files.handler';
import { filesystemService } from './filesystem/filesystem.service';
import { ProcessManager } from './process/process-manager';
import { processService } from './process/process.service';

export interface Envd {
  server: Server;
  processes: ProcessManager;
  close(): Promise<void>;
}

/** Settings a host may push after start (E2B's POST /init): env vars, access token, defaults. */
interface InitState {
  accessToken?: string;
  envVars: Record<string, string>;
}

function tokenMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
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
 */
export function createEnvd(): Envd {
  const processes = new ProcessManager();
  const state: InitState = { accessToken: process.env.ENVD_ACCESS_TOKEN || undefined, envVars: {} };
  const connect = connectNodeAdapter({
    routes: (router) => {
      router.service(processPb.Process, processService(processes, () => state.envVars));
      router.service(filesystemPb.Filesystem, filesystemService());
    },
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://envd');
    if (url.pathname === '/health') {
      res.writeHead(204).end();
      return;
    }
    if (state.accessToken && !tokenMatches(state.accessToken, req.headers['x-access-token'] as string | undefined)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 401, message: 'invalid access token' }));
      return;
    }
    if (url.pathname === '/files' && req.method === 'GET') return downloadFile(req, res, url);
    if (url.pathname === '/files' && (req.method === 'POST' || req.method === 'PUT')) return uploadFile(req, res, url);
    if (url.pathname === '/init' && req.method === 'POST') {
      const body = await readJson(req);
      if (typeof body.accessToken === 'string') state.accessToken = body.accessToken;
      if (body.envVars && typeof body.envVars === 'object') Object.assign(state.envVars, body.envVars);
      if (typeof body.defaultUser === 'string') process.env.ENVD_DEFAULT_USER = body.defaultUser;
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

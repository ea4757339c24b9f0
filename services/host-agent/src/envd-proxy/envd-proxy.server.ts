import { isSandboxId } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { answerError, forward, forwardableHeaders, HOST_TOKEN_HEADER, HostTokenError, HostTokenVerifier } from '@wrenn/service-kit';
import { Agent, createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { ENVD_ACCESS_TOKEN_HEADER } from '../envd-client/envd-token';

/** The header that names the sandbox a request is for (E2B's, kept end to end). */
export const SANDBOX_ID_HEADER = 'e2b-sandbox-id';

/**
 * A sandbox's envd on this host: its base URL and the access token it demands, or, when the host
 * serves that envd itself, the handler that answers in process.
 */
export interface EnvdRoute {
  baseUrl: string;
  accessToken?: string;
  handle?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/** Finds a sandbox's envd on this host; rejects when the sandbox is not here. */
export type EnvdLocator = (sandboxId: string) => Promise<EnvdRoute>;

export interface EnvdProxyServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The host agent's raw HTTP reverse proxy to its sandboxes' envd. The gateway forwards E2B SDK
 * traffic here (Connect RPC and plain HTTP alike) after checking the SDK's access token, with a
 * host token it minted for this host and the sandbox named in E2b-Sandbox-Id. This side checks
 * that token before anything else (401 and nothing done otherwise), routes by sandbox id, and puts
 * envd's own token (which only this agent holds) on each request in place of any the caller sent.
 * Neither token travels on to envd. Sandboxes' addresses are only reachable from the host, which
 * is why the hop exists.
 */
export async function startEnvdProxy(locate: EnvdLocator, tokens: HostTokenVerifier, options: { host: string; port: number; advertise: string }, log: Logger): Promise<EnvdProxyServer> {
  // One keep-alive pool for all sandboxes: a command is one request, so reusing sockets saves a
  // TCP handshake per call.
  const agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const sandboxId = String(req.headers[SANDBOX_ID_HEADER] ?? '');
    if (!isSandboxId(sandboxId)) return answerError(res, 400, `header E2b-Sandbox-Id must name a sandbox, got "${sandboxId}"`);
    try {
      await tokens.verify(req.headers[HOST_TOKEN_HEADER] as string | undefined, sandboxId);
    } catch (error) {
      if (!(error instanceof HostTokenError)) throw error;
      log.warn({ sandboxId, reason: error.code }, 'envd proxy call refused');
      return answerError(res, 401, error.message, { reason: error.code });
    }
    let envd: EnvdRoute;
    try {
      envd = await locate(sandboxId);
    } catch {
      // E2B's proxy answers 502 for a sandbox that is gone; the SDKs read it as "not running".
      return answerError(res, 502, `sandbox ${sandboxId} is not running on this host`, { sandboxId });
    }
    if (envd.handle) {
      // The host's own envd: the same request object, its tokens swapped as on the way out.
      delete req.headers[HOST_TOKEN_HEADER];
      delete req.headers[ENVD_ACCESS_TOKEN_HEADER];
      if (envd.accessToken) req.headers[ENVD_ACCESS_TOKEN_HEADER] = envd.accessToken;
      return envd.handle(req, res).catch(() => answerError(res, 502, `sandbox ${sandboxId} is not running on this host`, { sandboxId }));
    }
    const headers = forwardableHeaders(req.headers, [ENVD_ACCESS_TOKEN_HEADER, HOST_TOKEN_HEADER]);
    if (envd.accessToken) headers[ENVD_ACCESS_TOKEN_HEADER] = envd.accessToken;
    forward(req, res, { baseUrl: envd.baseUrl, headers, agent }, (error) => {
      log.warn({ sandboxId, err: error }, 'envd did not answer');
      answerError(res, 502, `the sandbox did not answer: ${error.message}`, { sandboxId });
    });
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error) => answerError(res, 500, String((error as Error)?.message ?? error)));
  });
  // Process output streams may stay open as long as the command runs.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.advertise}:${port}`;
  log.info({ url }, 'envd proxy listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

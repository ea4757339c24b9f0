import { HostHeartbeats } from '@wrenn/messaging';
import { HTTP_STATUS } from '../errors/http-status';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, ENVD_PORT, isSandboxId, Naming, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { answerError, forward, forwardableHeaders, HOST_TOKEN_HEADER, LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';
import { Agent, IncomingMessage, request, ServerResponse } from 'node:http';
import { ActivityRecorder } from '../activity/activity.recorder';
import { HostTokens } from '../data-plane/host-tokens';
import { SandboxRepository } from '../repositories/sandbox.repository';
import { RunningSandboxesCache } from '../services/running-sandboxes.cache';
import { EnvdAccessTokens } from './envd-access-tokens';

export const SANDBOX_ID_HEADER = 'e2b-sandbox-id';
export const SANDBOX_PORT_HEADER = 'e2b-sandbox-port';
export const ACCESS_TOKEN_HEADER = 'x-access-token';
/** The only port inside a sandbox reachable this way: envd's, as E2B's SDKs address it. */

interface Route {
  url: string;
  hostId: string;
}

/**
 * The gateway's side of E2B_SANDBOX_URL: requests carrying E2b-Sandbox-Id are E2B SDK traffic for
 * a sandbox's envd. They are checked here (the sandbox's access token, the sandbox running) and
 * forwarded as raw bytes to the envd proxy of the sandbox's host agent, which reaches envd on the
 * sandbox's own address. No body is parsed or buffered on the way. (One proxy, one name: the
 * host agent's hop is *the envd proxy*; this one only checks and forwards, so it is a forwarder.)
 */
@Injectable()
export class SandboxTrafficForwarder implements OnApplicationShutdown {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 });
  private readonly beats: HostHeartbeats;

  constructor(
    private readonly sandboxes: SandboxRepository,
    private readonly tokens: EnvdAccessTokens,
    private readonly hostTokens: HostTokens,
    private readonly activity: ActivityRecorder,
    private readonly runningSandboxes: RunningSandboxesCache,
    @Inject(NATS) nc: NatsConnection,
    @Inject(NAMING) naming: Naming,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.beats = new HostHeartbeats(nc, naming.hostsBucket, { watch: true });
  }

  /** Whether a request is for a sandbox's envd rather than the REST API. */
  static claims(req: IncomingMessage): boolean {
    return req.headers[SANDBOX_ID_HEADER] !== undefined;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((error) => {
      // Typed errors keep their status (a host that is gone is a bad gateway here); anything else
      // is logged and answered without its text, which may come from the database or a socket.
      if (error instanceof WrennError) {
        const status = error.code === ErrorCode.HostUnavailable ? 502 : (HTTP_STATUS[error.code] ?? 500);
        return answerError(res, status, error.message);
      }
      this.log.error({ err: error }, 'envd proxy failed');
      answerError(res, 500, 'internal error');
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sandboxId = String(req.headers[SANDBOX_ID_HEADER]);
    const port = Number(req.headers[SANDBOX_PORT_HEADER] ?? ENVD_PORT);
    if (port !== ENVD_PORT) return answerError(res, 400, `only envd's port ${ENVD_PORT} is reachable through E2B_SANDBOX_URL, not ${req.headers[SANDBOX_PORT_HEADER]}`);
    // A malformed id gets the same answer as a wrong token: nothing to learn by probing.
    if (!isSandboxId(sandboxId) || !this.tokens.matches(sandboxId, req.headers[ACCESS_TOKEN_HEADER] as string | undefined)) {
      return answerError(res, 401, 'invalid or missing X-Access-Token for this sandbox');
    }
    const route = await this.hostProxyRoute(sandboxId);
    // E2B's proxy answers 502 for a sandbox that is not running; the SDKs read it as "gone".
    if (!route) return answerError(res, 502, `sandbox ${sandboxId} is not running`, { sandboxId });
    // SDK traffic is use of the sandbox, as REST calls are: without it a sandbox driven only
    // through the SDK would be paused by its inactivity timeout mid-work. Held for as long as the
    // exchange is open, so a long command's stream counts up to its last byte.
    res.once('close', this.activity.hold(sandboxId));
    // The SDK's token stays here: envd inside the sandbox has no use for the platform's token. The
    // agent gets a host token for this sandbox instead (whatever the caller sent under that name is dropped).
    const headers = forwardableHeaders(req.headers, [ACCESS_TOKEN_HEADER, HOST_TOKEN_HEADER]);
    headers[HOST_TOKEN_HEADER] = await this.hostTokens.token(route.hostId, sandboxId);
    forward(req, res, { baseUrl: route.url, headers, agent: this.agent }, (error) => {
      this.runningSandboxes.forget(sandboxId);
      answerError(res, 502, `the sandbox's host did not answer: ${error.message}`, { sandboxId });
    });
  }

  /**
   * The host running the sandbox and its envd proxy URL, or null when it is not running. The host
   * comes from the running sandboxes in memory (kept by the sandbox events) when it is there; the
   * caller's access token, checked before, is what proves access, so no team is compared here.
   */
  private async hostProxyRoute(sandboxId: string): Promise<Route | null> {
    let hostId = this.runningSandboxes.get(sandboxId)?.hostId;
    if (!hostId) {
      const row = await this.sandboxes.findById(sandboxId);
      if (!row || row.state !== 'running' || !row.hostId) return null;
      this.runningSandboxes.remember(sandboxId, row);
      hostId = row.hostId;
    }
    const beat = await this.beats.get(hostId);
    if (!beat?.envdProxyUrl) throw new WrennError(ErrorCode.HostUnavailable, `host ${hostId} offers no envd proxy`);
    return { url: beat.envdProxyUrl, hostId };
  }

  /**
   * Applies E2B's create-time envVars to a new sandbox: envd's POST /init, which makes them the
   * default environment of every process started later.
   */
  async initEnv(sandboxId: string, envVars: Record<string, string>): Promise<void> {
    const route = await this.hostProxyRoute(sandboxId);
    if (!route) throw new WrennError(ErrorCode.InvalidState, `sandbox ${sandboxId} is not running`);
    const body = JSON.stringify({ envVars });
    const target = new URL('/init', route.url);
    const hostToken = await this.hostTokens.token(route.hostId, sandboxId);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(target, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), [SANDBOX_ID_HEADER]: sandboxId, [HOST_TOKEN_HEADER]: hostToken }, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(body);
    }).catch((error: Error) => {
      throw new WrennError(ErrorCode.SandboxUnavailable, `setting the sandbox's environment failed: ${error.message}`);
    });
    if (status < 200 || status >= 300) throw new WrennError(ErrorCode.SandboxUnavailable, `setting the sandbox's environment failed: envd answered ${status}`);
  }

  onApplicationShutdown(): void {
    this.beats.close();
    this.agent.destroy();
  }
}

/**
 * Puts the sandbox-traffic forwarder in front of the REST API on the same HTTP server: requests with
 * E2b-Sandbox-Id never reach Express (no body parser touches their streams), everything else
 * goes on as before. One port serves both E2B_API_URL (…/e2b) and E2B_SANDBOX_URL.
 */
export function attachSandboxTrafficForwarder(server: import('node:http').Server, forwarder: SandboxTrafficForwarder): void {
  const api = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (SandboxTrafficForwarder.claims(req)) return forwarder.handle(req, res);
    for (const listener of api) listener.call(server, req, res);
  });
}

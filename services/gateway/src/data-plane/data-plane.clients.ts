import { HostHeartbeats } from '@wrenn/messaging';
import { Client, Code, ConnectError, ContextValues, createClient, createContextKey, createContextValues, Interceptor, Transport } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, ErrorCode as Codes, Naming, WrennError } from '@wrenn/contracts';
import { dataPlanePb } from '@wrenn/proto';
import { HOST_TOKEN_HEADER, NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';
import { HostTokens } from './host-tokens';

export type DataPlaneClient = Client<typeof dataPlanePb.DataPlane>;

const ERROR_CODE_HEADER = 'wrenn-error-code';
/** Set by an agent that refused our host token (see the host agent's data plane). */
const HOST_TOKEN_REFUSED_HEADER = 'wrenn-host-token-refused';
const KNOWN_CODES = new Set<string>(Object.values(Codes));

/** A data-plane failure in the platform's error model (the agent's own code when it sent one). */
export function fromConnect(error: unknown): WrennError {
  if (error instanceof WrennError) return error;
  if (!(error instanceof ConnectError)) return new WrennError(ErrorCode.Internal, (error as Error)?.message ?? String(error));
  // The agent refused the gateway's own credentials: a platform fault (keys, clocks), not the caller's.
  const refused = error.metadata.get(HOST_TOKEN_REFUSED_HEADER);
  if (refused) return new WrennError(ErrorCode.HostUnavailable, `the sandbox's host refused the gateway's token (${refused})`);
  const sent = error.metadata.get(ERROR_CODE_HEADER);
  if (sent && KNOWN_CODES.has(sent)) return new WrennError(sent as ErrorCode, error.rawMessage);
  switch (error.code) {
    case Code.NotFound: return new WrennError(ErrorCode.FileNotFound, error.rawMessage);
    case Code.InvalidArgument: case Code.AlreadyExists: case Code.FailedPrecondition: return new WrennError(ErrorCode.ValidationFailed, error.rawMessage);
    case Code.PermissionDenied: return new WrennError(ErrorCode.PermissionDenied, error.rawMessage);
    // envd answers an unknown sandbox user as unauthenticated: a bad request from our side.
    case Code.Unauthenticated: return new WrennError(ErrorCode.ValidationFailed, error.rawMessage);
    case Code.ResourceExhausted: return new WrennError(ErrorCode.InsufficientStorage, error.rawMessage);
    case Code.DeadlineExceeded: return new WrennError(ErrorCode.ExecTimeout, error.rawMessage);
    case Code.Unavailable: return new WrennError(ErrorCode.SandboxUnavailable, `the sandbox did not answer: ${error.rawMessage}`);
    // The sandbox went away under the call (paused, destroyed, its host lost): not our fault.
    case Code.Aborted: case Code.Canceled: return new WrennError(ErrorCode.SandboxUnavailable, `the sandbox stopped answering during the call: ${error.rawMessage}`);
    default: return new WrennError(ErrorCode.Internal, error.rawMessage);
  }
}

/**
 * Clients of the host agents' data planes, one HTTP/2 session per agent, found through the
 * agents' heartbeats (which carry their data-plane URL). Each client addresses one sandbox: every
 * call it makes carries a host token for that host and sandbox (reused while young, see HostTokens).
 */
@Injectable()
export class DataPlaneClients implements OnApplicationShutdown {
  private readonly transports = new Map<string, { transport: Transport; sessions: Http2SessionManager }>();
  private readonly beats: HostHeartbeats;

  constructor(
    @Inject(NATS) nc: NatsConnection,
    @Inject(NAMING) naming: Naming,
    private readonly tokens: HostTokens,
  ) {
    // Watched: a data-plane call finds its host's address in memory, not with a NATS read.
    this.beats = new HostHeartbeats(nc, naming.hostsBucket, { watch: true });
  }

  private async url(hostId: string): Promise<string> {
    const beat = await this.beats.get(hostId);
    if (!beat) throw new WrennError(ErrorCode.HostUnavailable, `host ${hostId} is not known`);
    if (!beat.dataPlaneUrl) throw new WrennError(ErrorCode.HostUnavailable, `host ${hostId} has no data plane`);
    return beat.dataPlaneUrl;
  }

  /** A client for calls about `sandboxId` on its host `hostId`. */
  async forSandbox(hostId: string, sandboxId: string): Promise<DataPlaneClient> {
    const url = await this.url(hostId);
    let entry = this.transports.get(url);
    if (!entry) {
      const sessions = new Http2SessionManager(url, { pingIntervalMs: 15_000, idleConnectionTimeoutMs: 60_000 });
      entry = { transport: createConnectTransport({ baseUrl: url, httpVersion: '2', sessionManager: sessions, interceptors: [this.withHostToken()] }), sessions };
      this.transports.set(url, entry);
    }
    // The call's address rides in its context values, so the one shared transport finds the token per call.
    const transport = entry.transport;
    const address = { hostId, sandboxId };
    const scoped: Transport = {
      unary: (method, signal, timeoutMs, header, input, values) => transport.unary(method, signal, timeoutMs, header, input, addressed(values, address)),
      stream: (method, signal, timeoutMs, header, input, values) => transport.stream(method, signal, timeoutMs, header, input, addressed(values, address)),
    };
    return createClient(dataPlanePb.DataPlane, scoped);
  }

  /** Puts a host token for the call's address (see forSandbox) on every call. */
  private withHostToken(): Interceptor {
    return (next) => async (req) => {
      const address = req.contextValues.get(CALL_ADDRESS);
      if (!address) throw new WrennError(ErrorCode.Internal, 'a data-plane call must address a sandbox');
      req.header.set(HOST_TOKEN_HEADER, await this.tokens.token(address.hostId, address.sandboxId));
      try {
        return await next(req);
      } catch (error) {
        // A refused token is not offered again: the next call carries a new one.
        if (error instanceof ConnectError && error.metadata.get(HOST_TOKEN_REFUSED_HEADER)) this.tokens.forget(address.hostId, address.sandboxId);
        throw error;
      }
    };
  }

  onApplicationShutdown(): void {
    this.beats.close();
    for (const { sessions } of this.transports.values()) sessions.abort();
    this.transports.clear();
  }
}

/** The host and sandbox a data-plane call is about. */
const CALL_ADDRESS = createContextKey<{ hostId: string; sandboxId: string } | undefined>(undefined, { description: 'data-plane call address' });

function addressed(values: ContextValues | undefined, address: { hostId: string; sandboxId: string }): ContextValues {
  const result = values ?? createContextValues();
  result.set(CALL_ADDRESS, address);
  return result;
}

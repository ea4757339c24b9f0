import { HostHeartbeats } from '@wrenn/messaging';
import { Client, Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, ErrorCode as Codes, Naming, WrennError } from '@wrenn/contracts';
import { dataPlanePb } from '@wrenn/proto';
import { NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';

export type DataPlaneClient = Client<typeof dataPlanePb.DataPlane>;

const ERROR_CODE_HEADER = 'wrenn-error-code';
const KNOWN_CODES = new Set<string>(Object.values(Codes));

/** A data-plane failure in the platform's error model (the agent's own code when it sent one). */
export function fromConnect(error: unknown): WrennError {
  if (error instanceof WrennError) return error;
  if (!(error instanceof ConnectError)) return new WrennError(ErrorCode.Internal, (error as Error)?.message ?? String(error));
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
 * agents' heartbeats (which carry their data-plane URL).
 */
@Injectable()
export class DataPlaneClients implements OnApplicationShutdown {
  private readonly clients = new Map<string, { client: DataPlaneClient; sessions: Http2SessionManager }>();
  private readonly beats: HostHeartbeats;

  constructor(@Inject(NATS) nc: NatsConnection, @Inject(NAMING) naming: Naming) {
    this.beats = new HostHeartbeats(nc, naming.hostsBucket);
  }

  private async url(hostId: string): Promise<string> {
    const beat = await this.beats.get(hostId);
    if (!beat) throw new WrennError(ErrorCode.HostUnavailable, `host ${hostId} is not known`);
    if (!beat.dataPlaneUrl) throw new WrennError(ErrorCode.HostUnavailable, `host ${hostId} has no data plane`);
    return beat.dataPlaneUrl;
  }

  async forHost(hostId: string): Promise<DataPlaneClient> {
    const url = await this.url(hostId);
    let entry = this.clients.get(url);
    if (!entry) {
      const sessions = new Http2SessionManager(url, { pingIntervalMs: 15_000, idleConnectionTimeoutMs: 60_000 });
      const transport = createConnectTransport({ baseUrl: url, httpVersion: '2', sessionManager: sessions });
      entry = { client: createClient(dataPlanePb.DataPlane, transport), sessions };
      this.clients.set(url, entry);
    }
    return entry.client;
  }

  onApplicationShutdown(): void {
    for (const { sessions } of this.clients.values()) sessions.abort();
    this.clients.clear();
  }
}

import { ErrorCode, HostOp, HostReply, HostRequest, Naming } from '@wrenn/contracts';
import { commandDuration, timedStep } from '@wrenn/observability';
import { NatsConnection } from 'nats';
import { request } from './rpc';

/**
 * The one client of the host agents' host.<hostId>.<op> subjects (scheduler, catalog, reaper).
 * Request and reply are typed per op by HostProtocol; a host with no agent listening answers
 * 503 host_unavailable, one that does not answer in time 504 host_timeout, and an agent's own
 * refusal arrives as the WrennError it sent.
 */
export class HostClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly naming: Naming,
  ) {}

  /** A Nest provider of the client, from the tokens under which a service provides NATS and its Naming. */
  static provider(natsToken: string, namingToken: string) {
    return { provide: HostClient, useFactory: (nc: NatsConnection, naming: Naming) => new HostClient(nc, naming), inject: [natsToken, namingToken] };
  }

  send<Op extends HostOp>(hostId: string, op: Op, payload: HostRequest<Op>, timeoutMs: number): Promise<HostReply<Op>> {
    // Timed per op, without the host id: the series' size stays that of the ops, whatever the fleet.
    return timedStep(commandDuration, { service: 'host-agent', command: op }, () =>
      request<HostReply<Op>>(this.nc, this.naming.hostSubject(hostId, op), payload, timeoutMs, {
        code: ErrorCode.HostUnavailable,
        what: `host ${hostId}`,
      }),
    );
  }
}

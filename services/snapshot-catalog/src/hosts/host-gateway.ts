import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, HostHeartbeat, HostOp, isLive, Naming, WrennError } from '@wrenn/contracts';
import { request, HostHeartbeats } from '@wrenn/messaging';
import { NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';

/** The catalog's way to the host agents: liveness from the hosts bucket, host.<id>.<op> commands. */
@Injectable()
export class HostGateway {
  private readonly beats: HostHeartbeats;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
  ) {
    this.beats = new HostHeartbeats(nc, naming.hostsBucket);
  }

  /** 503 host_unavailable unless the host's last heartbeat is within its lease. */
  async requireLive(hostId: string): Promise<HostHeartbeat> {
    const beat = await this.beats.get(hostId);
    if (!beat || !isLive(beat)) throw new WrennError(ErrorCode.HostUnavailable, `host ${hostId} is not live`, { host_id: hostId });
    return beat;
  }

  send<T>(hostId: string, op: HostOp, payload: unknown, timeoutMs: number): Promise<T> {
    return request<T>(this.nc, this.naming.hostSubject(hostId, op), payload, timeoutMs, {
      code: ErrorCode.HostUnavailable,
      what: `host ${hostId}`,
    });
  }
}

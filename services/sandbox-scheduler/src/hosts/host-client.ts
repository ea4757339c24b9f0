import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, HostOp, Naming } from '@wrenn/contracts';
import { request } from '@wrenn/messaging';
import { NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';

/** Sends host.<hostId>.<op> commands and returns the agent's typed answer. */
@Injectable()
export class HostClient {
  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
  ) {}

  send<T>(hostId: string, op: HostOp, payload: unknown, timeoutMs: number): Promise<T> {
    return request<T>(this.nc, this.naming.hostSubject(hostId, op), payload, timeoutMs, {
      code: ErrorCode.HostUnavailable,
      what: `host ${hostId}`,
    });
  }
}

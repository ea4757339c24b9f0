import { HostHeartbeat, requireLive } from '@wrenn/contracts';
import { KV, NatsConnection } from 'nats';

/**
 * One host agent's latest heartbeat, read from the hosts bucket: what the data plane, the envd
 * proxy and the snapshot catalog need to reach a host or know it is live. The KV view is opened
 * on first use and shared by every read.
 */
export class HostHeartbeats {
  private kv: Promise<KV> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
  ) {}

  /** The host's last heartbeat; undefined when it never beat or was removed. */
  async get(hostId: string): Promise<HostHeartbeat | undefined> {
    this.kv ??= this.nc.jetstream().views.kv(this.bucket, { history: 1 });
    const entry = await (await this.kv).get(hostId);
    return entry?.operation === 'PUT' ? entry.json<HostHeartbeat>() : undefined;
  }

  /** The host's heartbeat when it is live, or 503 host_unavailable. */
  async requireLive(hostId: string): Promise<HostHeartbeat> {
    return requireLive(await this.get(hostId), hostId);
  }
}

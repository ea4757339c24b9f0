import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HostHeartbeat, Naming } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { KV, NatsConnection } from 'nats';
import { chooseHost, PlacementRequest } from './placement';

/**
 * The scheduler's view of the fleet: a watch on the hosts KV bucket kept in memory (rebuilt on
 * every start from the bucket, so nothing is lost with the process), plus the resources it
 * placed since each host's last beat.
 */
@Injectable()
export class HostDirectory implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly hosts = new Map<string, HostHeartbeat>();
  private readonly inFlight = new Map<string, { sandboxes: number; vcpus: number; memoryMb: number }>();
  private stopWatch: (() => void) | undefined;
  private kv: KV | undefined;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.kv = await this.nc.jetstream().views.kv(this.naming.hostsBucket, { history: 1 });
    const watch = await this.kv.watch();
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') {
          this.hosts.delete(entry.key);
          continue;
        }
        try {
          const beat = entry.json<HostHeartbeat>();
          const previous = this.hosts.get(beat.hostId);
          // A new beat reports everything placed before it; start counting afresh.
          if (!previous || previous.at !== beat.at) this.inFlight.delete(beat.hostId);
          this.hosts.set(beat.hostId, beat);
        } catch (error) {
          this.log.warn({ err: error, key: entry.key }, 'unreadable heartbeat');
        }
      }
    })();
  }

  onApplicationShutdown(): void {
    this.stopWatch?.();
  }

  all(): HostHeartbeat[] {
    return [...this.hosts.values()];
  }

  get(hostId: string): HostHeartbeat | undefined {
    return this.hosts.get(hostId);
  }

  /** Chooses a host and books the request against it until its next heartbeat. */
  place(request: PlacementRequest & { onlyHost?: string }): HostHeartbeat | null {
    const candidates = request.onlyHost === undefined ? this.all() : this.all().filter((h) => h.hostId === request.onlyHost);
    const host = chooseHost(candidates, request, Date.now(), this.inFlight);
    if (!host) return null;
    const booked = this.inFlight.get(host.hostId) ?? { sandboxes: 0, vcpus: 0, memoryMb: 0 };
    this.inFlight.set(host.hostId, {
      sandboxes: booked.sandboxes + 1,
      vcpus: booked.vcpus + request.vcpus,
      memoryMb: booked.memoryMb + request.memoryMb,
    });
    return host;
  }
}

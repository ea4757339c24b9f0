import { HostHeartbeat, requireLive } from '@wrenn/contracts';
import { KV, NatsConnection } from 'nats';

/** How long reads go to the bucket after a watch ended before a new watch is tried. */
const WATCH_RETRY_MS = 5000;

export interface HostHeartbeatsOptions {
  /**
   * Keep every host's latest beat in memory from a watch on the bucket, so a read costs no NATS
   * round trip (the gateway reads one on every data-plane call). A host the watch has not
   * delivered yet is read from the bucket.
   */
  watch?: boolean;
}

/**
 * One host agent's latest heartbeat, read from the hosts bucket: what the data plane, the envd
 * proxy and the snapshot catalog need to reach a host or know it is live. The KV view is opened
 * on first use and shared by every read.
 */
export class HostHeartbeats {
  private kv: Promise<KV> | undefined;
  /** The watched beats (with `watch`): the latest PUT of every key, dropped on delete. */
  private readonly latest = new Map<string, HostHeartbeat>();
  private watching: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;
  private closed = false;
  /** After a watch failed, reads go to the bucket until then rather than retry on every read. */
  private retryWatchAt = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
    private readonly options: HostHeartbeatsOptions = {},
  ) {}

  private view(): Promise<KV> {
    this.kv ??= this.nc.jetstream().views.kv(this.bucket, { history: 1 });
    return this.kv;
  }

  /** The host's last heartbeat; undefined when it never beat or was removed. */
  async get(hostId: string): Promise<HostHeartbeat | undefined> {
    if (this.options.watch && !this.closed) {
      if (!this.watching && Date.now() >= this.retryWatchAt) this.watching = this.watchBeats();
      const watched = this.latest.get(hostId);
      if (watched) return watched;
    }
    const entry = await (await this.view()).get(hostId);
    return entry?.operation === 'PUT' ? entry.json<HostHeartbeat>() : undefined;
  }

  /** The host's heartbeat when it is live, or 503 host_unavailable. */
  async requireLive(hostId: string): Promise<HostHeartbeat> {
    return requireLive(await this.get(hostId), hostId);
  }

  /** Stops the watch (with `watch`); later reads go to the bucket. */
  close(): void {
    this.closed = true;
    this.stopWatch?.();
    this.latest.clear();
  }

  /**
   * Follows the bucket until closed. When the watch ends (a lost connection the client could not
   * resume), what it held is dropped and the next read starts a new one: a beat is never served
   * from a watch that stopped following.
   */
  private async watchBeats(): Promise<void> {
    try {
      const watch = await (await this.view()).watch();
      this.stopWatch = () => watch.stop();
      if (this.closed) watch.stop();
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') {
          this.latest.delete(entry.key);
          continue;
        }
        try {
          this.latest.set(entry.key, entry.json<HostHeartbeat>());
        } catch {
          this.latest.delete(entry.key); // unreadable: reads fall back to the bucket
        }
      }
    } catch {
      // A watch that could not start or broke: reads go to the bucket until the next one.
    } finally {
      this.retryWatchAt = Date.now() + WATCH_RETRY_MS;
      this.latest.clear();
      this.stopWatch = undefined;
      this.watching = undefined;
    }
  }
}

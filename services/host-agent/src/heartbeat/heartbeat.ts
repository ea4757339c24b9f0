import { HostHeartbeat, HostMemory, Naming, RuntimeKind } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { KV, NatsConnection } from 'nats';
import { Usage } from '../sandbox/sandbox-orchestrator';

/** Extra beats (see soon()) come at most this often: a pool filling several at once is one beat. */
const SOON_MS = 20;

export interface HeartbeatOptions {
  hostId: string;
  bootId: string;
  runtime: RuntimeKind;
  capacity: HostHeartbeat['capacity'];
  intervalMs: number;
  leaseMs: number;
  version: string;
  dataPlaneUrl: string;
  envdProxyUrl?: string;
  usage: () => Usage;
  /** What the machine really uses and the admission rules, read at each beat (see HostAdmission). */
  memory?: () => HostMemory | undefined;
  /** Ready warm sandboxes by pool key, read at each beat; absent (or undefined) without a pool. */
  warm?: () => Record<string, number> | undefined;
}

/**
 * Announces the host in the hosts KV bucket: who it is, which boot, capacity, what its sandboxes
 * asked for and what the machine really uses. The scheduler places only on hosts whose last beat
 * is younger than the lease; the reaper treats a longer silence as a lost host.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private kv: KV | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly naming: Naming,
    private readonly options: HeartbeatOptions,
    private readonly log: Logger,
  ) {}

  /** `createBucket`: only without NATS auth; an agent's creds may not create buckets. */
  async start(deadlineMs = 300_000, createBucket = false): Promise<void> {
    this.kv = createBucket ? await this.nc.jetstream().views.kv(this.naming.hostsBucket, { history: 1 }) : await this.bindWhenCreated(deadlineMs);
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.options.intervalMs);
  }

  /** A host's creds may put its own key but not create buckets: wait for the control plane to. */
  private async bindWhenCreated(deadlineMs: number): Promise<KV> {
    const until = Date.now() + deadlineMs;
    const jsm = await this.nc.jetstreamManager();
    for (let attempt = 0; ; attempt++) {
      try {
        await jsm.streams.info(`KV_${this.naming.hostsBucket}`);
        break;
      } catch (error) {
        if (Date.now() > until) throw error;
        if (attempt % 20 === 0) this.log.info({ err: (error as Error).message }, 'waiting for the control plane to create the hosts bucket');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return this.nc.jetstream().views.kv(this.naming.hostsBucket, { bindOnly: true });
  }

  /** `at` is taken before the figures: the scheduler drops a booking once a beat taken after the create's answer arrives. */
  private snapshot(at: number): HostHeartbeat {
    const o = this.options;
    return {
      hostId: o.hostId,
      bootId: o.bootId,
      runtime: o.runtime,
      capacity: o.capacity,
      used: o.usage(),
      ...this.memory(),
      at,
      leaseMs: o.leaseMs,
      version: o.version,
      dataPlaneUrl: o.dataPlaneUrl,
      ...(o.envdProxyUrl ? { envdProxyUrl: o.envdProxyUrl } : {}),
      ...this.warm(),
    };
  }

  /** The memory figures, or none: a host that cannot read them still beats (and is held to its requested memory). */
  private memory(): { memory?: HostMemory } {
    const memory = this.options.memory?.();
    return memory ? { memory } : {};
  }

  private warm(): { warm?: Record<string, number> } {
    const warm = this.options.warm?.();
    return warm ? { warm } : {};
  }

  private async beat(at = Date.now()): Promise<void> {
    try {
      await this.kv!.put(this.options.hostId, JSON.stringify(this.snapshot(at)));
    } catch (error) {
      this.log.warn({ err: error }, 'heartbeat failed');
    }
  }

  /**
   * An extra beat shortly (at most one per SOON_MS): a warm sandbox that became ready is worth a
   * one-event claim only once the scheduler knows of it, and the next regular beat may be seconds off.
   */
  soon(): void {
    if (this.soonTimer || !this.timer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      if (this.timer) void this.beat();
    }, SOON_MS);
    this.soonTimer.unref();
  }

  /** Stops beating; `withdraw` publishes an already-expired beat so nothing is placed here meanwhile. */
  async stop(withdraw: boolean): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.soonTimer = undefined;
    if (withdraw && this.kv) await this.beat(0);
  }
}

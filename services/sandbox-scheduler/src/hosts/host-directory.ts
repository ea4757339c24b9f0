import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HostHeartbeat, Naming, PendingOnHost } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { KV, NatsConnection } from 'nats';
import { chooseHost, FullHost, PlacementRequest } from './placement';

/**
 * One sandbox admitted to a host, counted against that host until a heartbeat shows it: while
 * the host creates it, and after, until a beat taken later than the create's answer arrives.
 * Without this, a burst of creates would all pass the same stale check.
 */
export class Booking {
  /** When the host answered the create (scheduler clock); undefined while it is under way. */
  private doneAt: number | undefined;

  constructor(
    readonly hostId: string,
    readonly memoryMb: number,
    private readonly drop: (booking: Booking) => void,
  ) {}

  /** The host created it: the first beat taken after now includes it. */
  settle(now = Date.now()): void {
    this.doneAt ??= now;
  }

  /** The host did not create it (refused, failed): it no longer counts. */
  release(): void {
    this.drop(this);
  }

  /**
   * Whether a beat taken at `at` (the host's clock) shows this sandbox. Comparing the two clocks
   * is what liveness already does (now − at < lease); skew between them only moves the moment
   * the booking gives way to the beat.
   */
  shownBy(at: number): boolean {
    return this.doneAt !== undefined && this.doneAt <= at;
  }
}

export type Placed = { host: HostHeartbeat; booking: Booking; full: FullHost[] } | { host: null; full: FullHost[] };

/**
 * The scheduler's view of the fleet: a watch on the hosts KV bucket kept in memory (rebuilt on
 * every start from the bucket, so nothing is lost with the process), plus the sandboxes it
 * admitted that each host's last beat does not show yet.
 */
@Injectable()
export class HostDirectory implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly hosts = new Map<string, HostHeartbeat>();
  /** Per host: its open bookings and their running totals (a placement reads the totals, never walks the bookings). */
  private readonly bookings = new Map<string, { open: Set<Booking>; sandboxes: number; memoryMb: number }>();
  /**
   * Per host, its ready warm sandboxes by pool key as last seen: each beat replaces them, each
   * claim sent takes one off at once (so concurrent creates do not all aim at the one warm
   * sandbox), and a claim's answer says what is left. A stale view costs one refused claim,
   * never a wrong one: the host decides.
   */
  private readonly warm = new Map<string, Map<string, number>>();
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
          this.bookings.delete(entry.key);
          this.warm.delete(entry.key);
          continue;
        }
        try {
          this.observe(entry.json<HostHeartbeat>());
        } catch (error) {
          this.log.warn({ err: error, key: entry.key }, 'unreadable heartbeat');
        }
      }
    })();
  }

  onApplicationShutdown(): void {
    this.stopWatch?.();
  }

  /** Takes a beat in: the bookings it shows stop counting, the rest keep counting on top of it. */
  observe(beat: HostHeartbeat): void {
    this.hosts.set(beat.hostId, beat);
    this.warm.set(beat.hostId, new Map(Object.entries(beat.warm ?? {})));
    const booked = this.bookings.get(beat.hostId);
    if (!booked) return;
    for (const booking of booked.open) if (booking.shownBy(beat.at)) this.unbook(booking);
  }

  private book(booking: Booking): void {
    const booked = this.bookings.get(booking.hostId) ?? { open: new Set<Booking>(), sandboxes: 0, memoryMb: 0 };
    booked.open.add(booking);
    booked.sandboxes += 1;
    booked.memoryMb += booking.memoryMb;
    this.bookings.set(booking.hostId, booked);
  }

  private unbook(booking: Booking): void {
    const booked = this.bookings.get(booking.hostId);
    if (!booked?.open.delete(booking)) return;
    booked.sandboxes -= 1;
    booked.memoryMb -= booking.memoryMb;
  }

  all(): HostHeartbeat[] {
    return [...this.hosts.values()];
  }

  get(hostId: string): HostHeartbeat | undefined {
    return this.hosts.get(hostId);
  }

  /** Admitted to each host and not shown by its last beat. */
  pending(): Map<string, PendingOnHost> {
    const out = new Map<string, PendingOnHost>();
    for (const [hostId, { sandboxes, memoryMb }] of this.bookings) if (sandboxes > 0) out.set(hostId, { sandboxes, memoryMb });
    return out;
  }

  /**
   * Like place(), among the hosts that have a warm sandbox of `warmKey` ready: the one with the
   * most headroom, its warm count taken down by one. `host: null` when none has (or none of those
   * has room): the create then takes the cold path, which places it as ever.
   */
  placeWarm(request: PlacementRequest & { warmKey: string; onlyHost?: string }, now = Date.now()): Placed {
    const candidates = this.all().filter((h) => (request.onlyHost === undefined || h.hostId === request.onlyHost) && (this.warm.get(h.hostId)?.get(request.warmKey) ?? 0) > 0);
    if (candidates.length === 0) return { host: null, full: [] };
    const placed = this.bookOn(candidates, request, now);
    if (placed.host) this.noteWarm(placed.host.hostId, request.warmKey, (this.warm.get(placed.host.hostId)?.get(request.warmKey) ?? 1) - 1);
    return placed;
  }

  /** What a host's claim answer said is left of a pool (0 after a refusal), until its next beat. */
  noteWarm(hostId: string, warmKey: string, ready: number): void {
    const pools = this.warm.get(hostId) ?? new Map<string, number>();
    pools.set(warmKey, Math.max(0, ready));
    this.warm.set(hostId, pools);
  }

  /**
   * Chooses a host and books the sandbox against it; the caller settles the booking when the host
   * created it and releases it when not. `exclude`: hosts that already refused this sandbox.
   */
  place(request: PlacementRequest & { onlyHost?: string; exclude?: ReadonlySet<string> }, now = Date.now()): Placed {
    const candidates = this.all().filter((h) => (request.onlyHost === undefined || h.hostId === request.onlyHost) && !request.exclude?.has(h.hostId));
    return this.bookOn(candidates, request, now);
  }

  private bookOn(candidates: HostHeartbeat[], request: PlacementRequest, now: number): Placed {
    const choice = chooseHost(candidates, request, now, this.pending());
    if (!choice.host) return choice;
    const booking = new Booking(choice.host.hostId, request.memoryMb, (b) => this.unbook(b));
    this.book(booking);
    return { host: choice.host, booking, full: choice.full };
  }
}

import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Aggregate, Naming } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { LRUCache } from 'lru-cache';
import { ConsumerEvents, ConsumerMessages, DebugEvents, DeliverPolicy, Events, NatsConnection } from 'nats';

/** Where a running sandbox is, and whose it is: all a data-plane call needs from the read model. */
export interface RunningSandbox {
  teamId: string;
  hostId: string;
}

/** How many running sandboxes are remembered (the rest are read per call, as without the cache). */
const RUNNING_SANDBOXES_MAX = 20_000;
/** The backstop: a remembered sandbox is read again after this long whatever the events said. */
const RUNNING_SANDBOX_TTL_MS = 10_000;
/** How many sandboxes' last event sequences are remembered, to refuse a read model that lags them. */
const LAST_EVENTS_MAX = 50_000;
/** After the event subscription ended, how long before a new one is tried. */
const FOLLOW_RETRY_MS = 2000;

/** Statuses after which the subscription may have missed events, or may miss them for a while. */
const INTERRUPTIONS = new Set<string>([
  ConsumerEvents.HeartbeatsMissed,
  ConsumerEvents.ConsumerNotFound,
  ConsumerEvents.StreamNotFound,
  ConsumerEvents.ConsumerDeleted,
  ConsumerEvents.OrderedConsumerRecreated,
  ConsumerEvents.NoResponders,
  'reset',
]);

/**
 * The running sandboxes the gateway's data-plane calls (exec, files, exec stream) go to, in
 * memory, so such a call costs no PostgreSQL read in the steady state: id → team and host, filled
 * from the read model when a call finds nothing here.
 *
 * Why it stays correct:
 * - Only running sandboxes are kept. Every event of a sandbox (pause, delete, a resume on another
 *   host, loss, anything) drops it, through an ordered consumer of the sandbox event subjects; the
 *   next call reads the row again and answers what it says (409 paused, 409 deleting, 404).
 * - A row older than an event already seen for its sandbox is not kept: each row carries the
 *   sequence of the last event it applied (`version`), and the subscription remembers each
 *   sandbox's last sequence, so a read that raced an event, or a projection that lags, cannot
 *   put a stale row back.
 * - When the subscription is interrupted (disconnect, missed heartbeats, its consumer recreated)
 *   everything is dropped and nothing is kept until it follows again; entries also expire after a
 *   few seconds whatever happens.
 * - The caller's team is checked against the kept team on every call (another team's key gets
 *   the same 404 as a read would answer). A stale host can only send a call to a host that no
 *   longer has the sandbox: the host token names the sandbox and the agent refuses sandboxes it
 *   does not hold (`sandbox_not_found`), after which the caller drops the entry and reads again.
 */
@Injectable()
export class RunningSandboxesCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly running = new LRUCache<string, RunningSandbox>({ max: RUNNING_SANDBOXES_MAX, ttl: RUNNING_SANDBOX_TTL_MS });
  private readonly lastEvent = new LRUCache<string, number>({ max: LAST_EVENTS_MAX });
  /** True while the subscription follows the sandbox events: only then is anything kept. */
  private live = false;
  private following: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private retryAt = 0;
  private closed = false;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.watchConnection().catch(() => undefined);
    this.follow();
  }

  /** The sandbox when it is known to run here; undefined when the read model must be asked. */
  get(sandboxId: string): RunningSandbox | undefined {
    this.follow();
    return this.live ? this.running.get(sandboxId) : undefined;
  }

  /**
   * Keeps a row just read from the read model, when it shows a running sandbox and no event newer
   * than the row has been seen for it.
   */
  remember(sandboxId: string, row: { teamId: string; hostId: string | null; state: string; version: string | number }): void {
    this.follow();
    if (!this.live || row.state !== 'running' || !row.hostId) return;
    if (Number(row.version) < (this.lastEvent.get(sandboxId) ?? 0)) return;
    this.running.set(sandboxId, { teamId: row.teamId, hostId: row.hostId });
  }

  /** Drops a sandbox: its host answered that it does not have it, or this gateway changed it. */
  forget(sandboxId: string): void {
    this.running.delete(sandboxId);
  }

  get size(): number {
    return this.running.size;
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.interrupted();
    void this.messages?.close().catch(() => undefined);
  }

  private interrupted(): void {
    this.live = false;
    this.running.clear();
    this.lastEvent.clear();
  }

  /** Starts the subscription on first use, and again a while after it ended. */
  private follow(): void {
    if (this.following || this.closed || Date.now() < this.retryAt) return;
    this.following = this.followEvents().finally(() => {
      this.interrupted();
      this.messages = undefined;
      this.following = undefined;
      this.retryAt = Date.now() + FOLLOW_RETRY_MS;
    });
  }

  private async followEvents(): Promise<void> {
    try {
      // An ordered consumer from now on: what happened before is already in the read model.
      const consumer = await this.nc.jetstream().consumers.get(this.naming.stream, {
        filterSubjects: this.naming.aggregateWildcard(Aggregate.Sandbox),
        deliver_policy: DeliverPolicy.New,
      });
      const messages = await consumer.consume({ max_messages: 512 });
      this.messages = messages;
      if (this.closed) return void (await messages.close());
      void (async () => {
        for await (const status of await messages.status()) {
          if (INTERRUPTIONS.has(status.type)) {
            // Events may have been missed: forget all and follow anew (a deleted consumer, say, is
            // not recreated by the client until its heartbeats time out, half a minute later).
            this.interrupted();
            messages.stop();
          }
        }
      })().catch(() => undefined);
      this.live = true;
      for await (const msg of messages) {
        const id = this.naming.parseEventSubject(msg.subject)?.id;
        if (!id) continue;
        this.running.delete(id);
        this.lastEvent.set(id, msg.seq);
        // Messages flow again after a disconnect: the consumer, ordered, lost none of them.
        this.live = true;
      }
    } catch (error) {
      if (!this.closed) this.log.warn({ err: error }, 'sandbox event subscription ended; data-plane calls read the read model');
    }
  }

  /**
   * A lost connection may lose events: forget all while it is down, and follow anew once it is
   * back (from then on, with nothing kept from before).
   */
  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === Events.Disconnect || status.type === DebugEvents.StaleConnection) this.interrupted();
      else if (status.type === Events.Reconnect) {
        this.interrupted();
        this.messages?.stop();
      }
    }
  }
}

import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConcurrencyError, decodeActor, EventStore } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { EVENT_STORE, LOGGER } from '@wrenn/service-kit';
import { IdentityOutboxRepository, OutboxRow } from '../repositories/identity-outbox.repository';

/**
 * Publishes identity_outbox rows to the event log and deletes them once JetStream acknowledged.
 * Called right after each identity transaction (so a reply is sent after its events are on the
 * log) and on a timer, which picks up anything a crash left behind. The outbox row's id is the
 * event id (Nats-Msg-Id), so publishing the same row twice stores it once.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly outbox: IdentityOutboxRepository,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush(), 2000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Publishes whatever is pending; failures are logged and retried by the next tick. */
  async flush(): Promise<void> {
    try {
      await this.outbox.drain((row) => this.publish(row));
    } catch (error) {
      this.log.warn({ err: error }, 'identity outbox relay failed; retrying on the next tick');
    }
  }

  private async publish(row: OutboxRow): Promise<void> {
    const meta = { correlationId: row.correlation_id, causationId: row.id, actor: decodeActor(row.actor), teamId: row.team_id };
    for (let attempt = 0; ; attempt++) {
      const version = await this.store.version(row.aggregate, row.aggregate_id);
      try {
        await this.store.append(row.aggregate, row.aggregate_id, [{ id: row.id, type: row.type, data: row.data }], meta, version);
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= 4) throw error;
      }
    }
  }
}

import { Naming } from '@wrenn/contracts';
import { isTransientDbError } from '@wrenn/db';
import { isNotFound, RawEventMessage } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { AckPolicy, DeliverPolicy, JsMsg, NatsConnection } from 'nats';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { Projection } from '../projection';
import { AppliedBatch, applyBatch, BatchOutcome } from './apply';

export interface ProjectionRunnerOptions {
  batchSize?: number;
  /** Delay before a batch that hit a transient error is redelivered. */
  nakDelayMs?: number;
  /** How long one fetch waits for new events before polling again. */
  fetchExpiresMs?: number;
  /** How often a standby replica retries to become the active runner. */
  leaderRetryMs?: number;
  /** How long JetStream waits for an ack before redelivering (a crashed runner's batch). */
  ackWaitMs?: number;
}

/**
 * Feeds one projection from its durable pull consumer.
 *
 * Exactly-once effect on top of at-least-once delivery: the projection's rows and its checkpoint
 * (stream sequence) commit in one PostgreSQL transaction, messages are acked only after the
 * commit, and a redelivered message at or below the checkpoint is skipped.
 *
 * Only one runner per projection is active at a time (a PostgreSQL advisory lock held on a
 * dedicated connection); replicas wait on standby. Batches from two active runners could
 * otherwise interleave and skip each other's events.
 */
export class ProjectionRunner {
  private readonly batchSize: number;
  private readonly nakDelayMs: number;
  private readonly fetchExpiresMs: number;
  private readonly leaderRetryMs: number;
  private readonly ackWaitMs: number;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private lockClient: Client | undefined;
  private lockLost = false;
  private wake: (() => void) | undefined;
  /** Wakes the consume loop when a message arrives or the runner stops. */
  private arrivedHook: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly naming: Naming,
    private readonly dataSource: DataSource,
    private readonly databaseUrl: string,
    readonly projection: Projection,
    private readonly log: Logger,
    options: ProjectionRunnerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 256;
    this.nakDelayMs = options.nakDelayMs ?? 1000;
    this.fetchExpiresMs = options.fetchExpiresMs ?? 1000;
    this.leaderRetryMs = options.leaderRetryMs ?? 2000;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
  }

  get durableName(): string {
    return this.naming.consumerName(this.projection.name);
  }

  /** Idempotent: creates the durable consumer, or updates its filter if the projection changed it. */
  async ensureConsumer(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    const config = this.consumerConfig();
    try {
      const info = await jsm.consumers.info(this.naming.stream, this.durableName);
      if (info.config.filter_subject !== config.filter_subject || info.config.max_ack_pending !== config.max_ack_pending) {
        await jsm.consumers.update(this.naming.stream, this.durableName, {
          filter_subject: config.filter_subject,
          max_ack_pending: config.max_ack_pending,
        });
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.consumers.add(this.naming.stream, config);
    }
  }

  /**
   * The checkpoint in PostgreSQL is the truth of what was applied. A runner taking over recreates
   * the durable consumer right after it, so whatever a crashed predecessor had fetched but not
   * committed is delivered again at once, instead of after its ack wait expires.
   */
  private async repositionConsumer(): Promise<void> {
    const rows: Array<{ position: string }> = await this.dataSource.query(
      'SELECT position FROM projection_checkpoints WHERE projection = $1',
      [this.projection.name],
    );
    const position = rows.length ? Number(rows[0].position) : 0;
    const jsm = await this.nc.jetstreamManager();
    await jsm.consumers.delete(this.naming.stream, this.durableName).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
    await jsm.consumers.add(this.naming.stream, {
      ...this.consumerConfig(),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: position + 1,
    });
  }

  private consumerConfig() {
    return {
      durable_name: this.durableName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.projection.filterSubject,
      // One batch in flight: redeliveries come back before anything newer, keeping order.
      max_ack_pending: this.batchSize,
      ack_wait: this.ackWaitMs * 1_000_000,
      max_deliver: -1,
    };
  }

  async start(): Promise<void> {
    try {
      await this.ensureConsumer();
    } catch (error) {
      // The projector reads the log but never creates it: when it starts before the services
      // that append (their own processes), the loop keeps trying until the stream is there.
      if (!isNotFound(error)) throw error;
      this.log.info({ projection: this.projection.name }, 'event stream not there yet; waiting for it');
    }
    this.running = true;
    this.loopDone = this.loop().catch((error) => this.log.error({ err: error, projection: this.projection.name }, 'projection runner stopped'));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    this.arrivedHook?.();
    await this.loopDone;
    await this.releaseLeadership();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async acquireLeadership(): Promise<boolean> {
    if (this.lockClient && !this.lockLost) return true;
    await this.releaseLeadership();
    const client = new Client({ connectionString: this.databaseUrl, application_name: `wrenn-projection-${this.projection.name}` });
    client.on('error', () => {
      this.lockLost = true;
    });
    try {
      await client.connect();
      const { rows } = await client.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [`wrenn-projection:${this.projection.name}`]);
      if (rows[0]?.locked) {
        this.lockClient = client;
        this.lockLost = false;
        this.log.info({ projection: this.projection.name }, 'projection runner active');
        return true;
      }
    } catch (error) {
      this.log.warn({ err: error, projection: this.projection.name }, 'projection leadership check failed');
    }
    await client.end().catch(() => undefined);
    return false;
  }

  private async releaseLeadership(): Promise<void> {
    const client = this.lockClient;
    this.lockClient = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!(await this.acquireLeadership())) {
        await this.sleep(this.leaderRetryMs);
        continue;
      }
      try {
        await this.consumeWhileLeader();
      } catch (error) {
        if (!this.running) break;
        if (isNotFound(error)) {
          // No stream yet (said once at start): not a failure, just early. Quietly poll.
          this.log.debug({ projection: this.projection.name }, 'event stream not there yet');
          await this.sleep(this.leaderRetryMs);
          continue;
        }
        this.log.warn({ err: error, projection: this.projection.name }, 'projection consumer failed; retrying');
        await this.sleep(this.nakDelayMs);
      }
    }
  }

  /**
   * Messages stream in continuously (consume, not fetch: no waiting for a full batch) and are
   * applied in micro-batches of whatever has arrived, so one event costs one transaction under
   * light load and a burst shares transactions.
   */
  private async consumeWhileLeader(): Promise<void> {
    await this.repositionConsumer();
    const consumer = await this.nc.jetstream().consumers.get(this.naming.stream, this.durableName);
    const messages = await consumer.consume({ max_messages: this.batchSize, expires: Math.max(1000, this.fetchExpiresMs) });
    const buffer: JsMsg[] = [];
    let ended = false;
    const pump = (async () => {
      try {
        for await (const msg of messages) {
          buffer.push(msg);
          this.arrivedHook?.();
        }
      } finally {
        ended = true;
        this.arrivedHook?.();
      }
    })();
    try {
      while (this.running && !this.lockLost && !ended) {
        if (buffer.length === 0) {
          await new Promise<void>((resolve) => {
            this.arrivedHook = resolve;
            setTimeout(resolve, this.leaderRetryMs);
          });
          this.arrivedHook = undefined;
          continue;
        }
        await this.process(buffer.splice(0, this.batchSize));
      }
    } finally {
      messages.stop();
      await pump.catch(() => undefined);
      // Whatever arrived but was not applied goes back at once rather than after ack_wait.
      for (const msg of buffer.splice(0)) msg.nak();
    }
  }

  /** Applies one fetched batch; exposed for tests that drive delivery by hand. */
  async process(batch: JsMsg[]): Promise<BatchOutcome | undefined> {
    batch.sort((a, b) => a.seq - b.seq);
    const raws = batch.map((m): RawEventMessage => ({ subject: m.subject, seq: m.seq, headers: m.headers, data: m.data }));
    let outcome: AppliedBatch | undefined;
    try {
      outcome = await this.dataSource.transaction((tx) => applyBatch(tx, this.projection, this.naming, raws));
    } catch (error) {
      // Nothing of the batch committed; have it redelivered after a pause. A non-transient
      // failure here is outside any single event (the checkpoint itself), so retrying is right too.
      const level = isTransientDbError(error) ? 'warn' : 'error';
      this.log[level]({ err: error, projection: this.projection.name, count: batch.length }, 'projection batch rolled back; will be redelivered');
      for (const msg of batch) msg.nak(this.nakDelayMs);
      return undefined;
    }
    for (const msg of batch) {
      // term() tells JetStream never to redeliver a parked message; ack for the rest.
      if (outcome.poisoned.has(msg.seq)) msg.term();
      else msg.ack();
    }
    if (outcome.parked > 0) this.log.error({ projection: this.projection.name, parked: outcome.parked }, 'events parked in dead_letters');
    return { applied: outcome.applied, skipped: outcome.skipped, parked: outcome.parked, position: outcome.position };
  }
}


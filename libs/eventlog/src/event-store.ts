import { variable } from '@wrenn/config';
import { Aggregate, Naming } from '@wrenn/contracts';
import { eventAppendDuration, timedStep } from '@wrenn/observability';
import {
  DeliverPolicy,
  DiscardPolicy,
  Empty,
  JetStreamClient,
  JetStreamManager,
  NatsConnection,
  NatsError,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { ulid } from 'ulid';
import { decodeEvent, encodeHeaders, EventMetadata, NewEvent, RawEventMessage, StoredEvent } from './envelope';

/** JetStream's "wrong last sequence" API error: someone appended to the aggregate first. */
const WRONG_LAST_SEQUENCE = 10071;

export class ConcurrencyError extends Error {
  constructor(readonly subject: string, readonly expectedVersion: number) {
    super(`${subject} moved past version ${expectedVersion}`);
    this.name = 'ConcurrencyError';
  }
}

export interface AppendResult {
  /** Stream sequence of the last appended event (= the aggregate's new version). */
  seq: number;
  events: StoredEvent[];
}

export interface LoadedStream {
  events: StoredEvent[];
  /** Stream sequence of the aggregate's last event; 0 when it has none. */
  version: number;
}

/**
 * The event log on JetStream: one stream, one subject per aggregate instance, optimistic
 * concurrency through expect.lastSubjectSequence.
 */
export class EventStore {
  private constructor(
    readonly nc: NatsConnection,
    readonly naming: Naming,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly clock: () => Date,
  ) {}

  static async create(nc: NatsConnection, naming: Naming, clock: () => Date = () => new Date()): Promise<EventStore> {
    const jsm = await nc.jetstreamManager();
    return new EventStore(nc, naming, nc.jetstream(), jsm, clock);
  }

  /**
   * Creates the stream, or brings an existing one to the expected subjects. Safe to run at every
   * boot from every service: creating an existing identical stream is a no-op.
   */
  async ensureStream(): Promise<void> {
    const config = {
      name: this.naming.stream,
      subjects: [this.naming.eventsWildcard],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      // The log is the source of truth: nothing is ever discarded by age or count.
      max_age: 0,
      max_msgs: -1,
      max_bytes: -1,
      discard: DiscardPolicy.New,
      duplicate_window: 2 * 60 * 1_000_000_000,
      num_replicas: variable('WRENN_STREAM_REPLICAS'),
      // Direct gets carry the subject in the API subject, so NATS permissions can scope them:
      // a host agent reads only its own aggregate's version (see versionOfOwn).
      allow_direct: true,
    };
    try {
      const info = await this.jsm.streams.info(config.name);
      const subjects = info.config.subjects ?? [];
      if (subjects.length !== 1 || subjects[0] !== config.subjects[0] || !info.config.allow_direct) {
        await this.jsm.streams.update(config.name, { ...info.config, subjects: config.subjects, allow_direct: true });
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.jsm.streams.add(config);
      } catch (addError) {
        // Another service created it between our info and add.
        if (!/already in use|already exists/i.test((addError as Error).message)) throw addError;
      }
    }
  }

  subject(aggregate: Aggregate, id: string): string {
    return this.naming.eventSubject(aggregate, id);
  }

  /**
   * Appends events to one aggregate, in order, each expecting the previous one's sequence.
   * Throws ConcurrencyError when the aggregate moved since `expectedVersion` was read.
   */
  append(aggregate: Aggregate, id: string, events: NewEvent[], meta: EventMetadata, expectedVersion: number): Promise<AppendResult> {
    return timedStep(eventAppendDuration, { aggregate }, () => this.appendEach(aggregate, id, events, meta, expectedVersion));
  }

  private async appendEach(aggregate: Aggregate, id: string, events: NewEvent[], meta: EventMetadata, expectedVersion: number): Promise<AppendResult> {
    const subject = this.subject(aggregate, id);
    const stored: StoredEvent[] = [];
    let version = expectedVersion;
    for (const event of events) {
      const eventId = event.id ?? `evt_${ulid().toLowerCase()}`;
      const occurredAt = this.clock().toISOString();
      const body = JSON.stringify(event.data ?? {});
      let seq: number;
      try {
        const ack = await this.js.publish(subject, body, {
          msgID: eventId,
          expect: { lastSubjectSequence: version },
          headers: encodeHeaders(eventId, event, meta, occurredAt),
        });
        seq = ack.seq;
      } catch (error) {
        if (isWrongLastSequence(error)) throw new ConcurrencyError(subject, version);
        throw error;
      }
      stored.push({
        id: eventId,
        type: event.type,
        version: event.version ?? 1,
        subject,
        aggregate,
        aggregateId: id,
        data: event.data,
        ...meta,
        occurredAt,
        seq,
      });
      version = seq;
    }
    return { seq: version, events: stored };
  }

  /** Reads an aggregate's whole history, in order. */
  async load(aggregate: Aggregate, id: string): Promise<LoadedStream> {
    const subject = this.subject(aggregate, id);
    let last: number;
    try {
      last = (await this.jsm.streams.getMessage(this.naming.stream, { last_by_subj: subject })).seq;
    } catch (error) {
      if (isNotFound(error)) return { events: [], version: 0 };
      throw error;
    }
    const events: StoredEvent[] = [];
    await this.read({ fromSeq: 1, subject, untilSeq: last }, (event) => {
      events.push(event);
    });
    return { events, version: last };
  }

  /** The aggregate's version (stream sequence of its last event; 0 when it has none). */
  async version(aggregate: Aggregate, id: string): Promise<number> {
    try {
      return (await this.jsm.streams.getMessage(this.naming.stream, { last_by_subj: this.subject(aggregate, id) })).seq;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  }

  /**
   * Like version(), through a direct get whose API subject names the aggregate: what a client
   * whose NATS permissions cover only its own aggregate (a host agent) can ask.
   */
  async versionOfOwn(aggregate: Aggregate, id: string): Promise<number> {
    const subject = this.subject(aggregate, id);
    const msg = await this.nc.request(`$JS.API.DIRECT.GET.${this.naming.stream}.${subject}`, Empty, { timeout: 10_000 });
    const status = msg.headers?.code ?? 0;
    if (status === 404) return 0;
    if (status >= 300) throw new Error(`direct get of ${subject} answered ${status} ${msg.headers?.description ?? ''}`.trim());
    const seq = Number(msg.headers?.get('Nats-Sequence'));
    if (!Number.isInteger(seq) || seq <= 0) throw new Error(`direct get of ${subject} carried no sequence`);
    return seq;
  }

  /** Waits until the stream exists (made by the control plane); for clients that may not create it. */
  async waitForStream(deadlineMs: number, onWait?: (error: unknown) => void): Promise<void> {
    const until = Date.now() + deadlineMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.jsm.streams.info(this.naming.stream);
        return;
      } catch (error) {
        if (Date.now() > until) throw error;
        if (attempt % 20 === 0) onWait?.(error);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Stream sequence of the newest event in the log (0 when empty). */
  async lastSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.naming.stream);
    return info.state.last_seq;
  }

  /**
   * Reads events in stream order with an ordered consumer (no acks, gap-free), from `fromSeq`
   * up to `untilSeq` (default: the newest event when the read starts). Messages that cannot be
   * decoded go to `onMalformed` (default: throw).
   */
  async read(
    options: ReadOptions,
    onEvent: (event: StoredEvent) => void | Promise<void>,
    onMalformed?: (raw: RawEventMessage, error: Error) => void | Promise<void>,
  ): Promise<number> {
    return this.readRaw(options, async (raw) => {
      let event: StoredEvent;
      try {
        event = decodeEvent(raw, this.naming.parseEventSubject);
      } catch (error) {
        if (!onMalformed) throw error;
        await onMalformed(raw, error as Error);
        return;
      }
      await onEvent(event);
    });
  }

  /**
   * The sequences a bounded read covers: from `fromSeq` to the last event that matches the filter
   * now (or `untilSeq`, if lower), so the read never waits for more. Null when there is nothing.
   */
  private async boundedRange(options: ReadOptions): Promise<{ subject: string; from: number; until: number } | null> {
    const subject = options.subject ?? this.naming.eventsWildcard;
    const from = Math.max(1, options.fromSeq ?? 1);
    let until: number;
    try {
      until = (await this.jsm.streams.getMessage(this.naming.stream, { last_by_subj: subject })).seq;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    if (options.untilSeq !== undefined) until = Math.min(until, options.untilSeq);
    return until < from ? null : { subject, from, until };
  }

  private orderedConsumer(range: { subject: string; from: number }) {
    return this.js.consumers.get(this.naming.stream, {
      filterSubjects: range.subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: range.from,
    });
  }

  /** Like read(), without decoding: what projections and dead-lettering need. */
  async readRaw(options: ReadOptions, onMessage: (raw: RawEventMessage) => void | Promise<void>): Promise<number> {
    const range = await this.boundedRange(options);
    if (!range) return 0;
    const { until } = range;
    const consumer = await this.orderedConsumer(range);
    let count = 0;
    try {
      for (let done = false; !done; ) {
        // An empty fetch means nothing matching is left below `until` (messages may have been
        // deleted). The batch is drained before any slow work: a fetch that expires while its
        // consumer is busy would drop what it had buffered.
        const fetched = await consumer.fetch({ max_messages: options.batch ?? 1000, expires: 1000 });
        const batch: RawEventMessage[] = [];
        for await (const msg of fetched) {
          batch.push({ subject: msg.subject, seq: msg.seq, headers: msg.headers, data: msg.data });
          if (msg.seq >= until) break;
        }
        const received = batch.length;
        for (const raw of batch) {
          if (raw.seq > until) {
            done = true;
            break;
          }
          await onMessage(raw);
          count++;
          if (raw.seq === until) {
            done = true;
            break;
          }
        }
        if (received === 0) done = true;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    return count;
  }

  /**
   * Like readRaw(), with a continuous pull (consume) instead of one fetch after another: the
   * server keeps sending while the caller works, about twice the rate of batched fetches on a
   * long read such as a replay. Stops at the last matching event present when the read starts.
   */
  async streamRaw(options: ReadOptions, onMessage: (raw: RawEventMessage) => void | Promise<void>): Promise<number> {
    const range = await this.boundedRange(options);
    if (!range) return 0;
    const { subject, from, until } = range;
    const consumer = await this.orderedConsumer(range);
    const messages = await consumer.consume({ max_messages: options.batch ?? 1000 });
    // Should the event at `until` be deleted meanwhile, nothing would end the read: when the
    // loop has waited on an empty buffer for a while and the server has nothing pending, stop.
    let waitingSince: number | undefined = performance.now();
    const watchdog = setInterval(() => {
      if (waitingSince === undefined || performance.now() - waitingSince < 2000) return;
      void consumer.info(false).then((info) => {
        if (info.num_pending === 0 && waitingSince !== undefined) messages.stop();
      }, () => undefined);
    }, 1000);
    let count = 0;
    let seen = from - 1;
    try {
      for await (const msg of messages) {
        waitingSince = undefined;
        seen = msg.seq;
        if (msg.seq > until) break;
        await onMessage({ subject: msg.subject, seq: msg.seq, headers: msg.headers, data: msg.data });
        count++;
        if (msg.seq >= until) break;
        waitingSince = performance.now();
      }
    } finally {
      clearInterval(watchdog);
      messages.stop();
      await consumer.delete().catch(() => undefined);
    }
    // Stopped by the watchdog: fine if the last event is really gone, an error if it is not.
    if (seen < until) {
      const gone = await this.jsm.streams.getMessage(this.naming.stream, { seq: until }).then(() => false, (error) => {
        if (isNotFound(error)) return true;
        throw error;
      });
      if (!gone) throw new Error(`the read of ${subject} stopped at ${seen}, before event ${until}`);
    }
    return count;
  }
}

export interface ReadOptions {
  fromSeq?: number;
  untilSeq?: number;
  /** Subject filter (may hold wildcards); default all events. */
  subject?: string;
  batch?: number;
}

export function isNotFound(error: unknown): boolean {
  const e = error as NatsError & { api_error?: { err_code?: number; code?: number } };
  return e?.api_error?.code === 404 || /not found/i.test(e?.message ?? '');
}

function isWrongLastSequence(error: unknown): boolean {
  const e = error as NatsError & { api_error?: { err_code?: number } };
  return e?.api_error?.err_code === WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(e?.message ?? '');
}

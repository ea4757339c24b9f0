import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Naming } from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { decodeEvent, EventHeader, StoredEvent } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { CONFIG, LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import type { Response } from 'express';
import { DeliverPolicy, NatsConnection } from 'nats';
import { EventEnvelopeView } from '../dtos/audit.dto';
import type { Caller } from '../auth/caller';
import { StreamSlots } from './stream-slots';

/** One event as the live stream sends it in `data:`. */
export interface LiveEventView extends EventEnvelopeView {
  id: string;
  data: unknown;
}

export function toLiveEvent(event: StoredEvent): LiveEventView {
  return {
    seq: event.seq,
    id: event.id,
    type: event.type,
    version: event.version,
    resource: { type: event.aggregate, id: event.aggregateId },
    actor: event.actor,
    team_id: event.teamId,
    correlation_id: event.correlationId,
    causation_id: event.causationId,
    occurred_at: event.occurredAt,
    data: event.data,
  };
}

interface OpenStream {
  close(): Promise<void>;
}

/**
 * Live events as Server-Sent Events. Each stream is a JetStream ordered consumer over every
 * event subject, starting right after the client's cursor (or at the log's end), and keeps only
 * the caller's team's events by their team header. `id:` is the stream sequence, so a client
 * that reconnects with Last-Event-ID gets exactly what it had not seen.
 *
 * Besides events, the stream sends `id:` lines with no data (which move the client's cursor
 * without an event): one when the stream opens, and with each heartbeat whenever other teams'
 * events were skipped, so a reconnect does not rescan them.
 */
@Injectable()
export class EventStreamService implements BeforeApplicationShutdown {
  private readonly open = new Set<OpenStream>();

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly slots: StreamSlots,
  ) {}

  /** Streams until the client goes away or the gateway shuts down. `after`: last sequence seen. */
  async stream(caller: Caller, after: number | undefined, res: Response): Promise<void> {
    const release = this.slots.acquire(caller);
    res.once('close', release);
    try {
      await this.serve(caller, after, res);
    } finally {
      release();
    }
  }

  private async serve(caller: Caller, after: number | undefined, res: Response): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    const last = (await jsm.streams.info(this.naming.stream)).state.last_seq;
    // A resume point further back than the replay bound starts at the bound: a reconnect costs at
    // most that many events scanned, never the whole log.
    const earliest = Math.max(1, last + 1 - this.config.edge.sseMaxReplay);
    const start = after !== undefined ? Math.max(after + 1, earliest) : last + 1;
    const consumer = await this.nc.jetstream().consumers.get(this.naming.stream, {
      filterSubjects: this.naming.eventsWildcard,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
    });
    const messages = await consumer.consume({ max_messages: 256 });

    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    res.setHeader('connection', 'keep-alive');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();

    let cursor = start - 1; // last sequence the client has accounted for
    let scanned = cursor; // last sequence looked at, the client's team's or not
    let closed = false;
    const write = async (frame: string) => {
      if (closed) return;
      if (res.write(frame)) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    };
    const heartbeat = setInterval(() => {
      const move = scanned > cursor ? `id: ${scanned}\n` : '';
      cursor = scanned;
      void write(`: heartbeat\n${move}\n`);
    }, this.config.sseHeartbeatMs);

    const stream: OpenStream = {
      close: async () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        this.open.delete(stream);
        await messages.close().catch(() => undefined);
        await consumer.delete().catch(() => undefined);
        if (!res.writableEnded) res.end();
      },
    };
    this.open.add(stream);
    // The response closes when the client goes away (or the stream ends).
    res.on('close', () => void stream.close());
    // The client may have gone while the consumer was being set up: no close event will come.
    if (res.destroyed || !res.socket || res.socket.destroyed) {
      await stream.close();
      return;
    }

    await write(`: stream open\nretry: 1000\nid: ${cursor}\n\n`);
    try {
      for await (const msg of messages) {
        if (closed) break;
        scanned = msg.seq;
        if (msg.headers?.get(EventHeader.TeamId) !== caller.teamId) continue;
        let event: StoredEvent;
        try {
          event = decodeEvent({ subject: msg.subject, seq: msg.seq, headers: msg.headers, data: msg.data }, this.naming.parseEventSubject);
        } catch {
          continue; // malformed: parked by the projections, not shown live
        }
        cursor = msg.seq;
        await write(`id: ${msg.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(toLiveEvent(event))}\n\n`);
      }
    } catch (error) {
      if (!closed) this.log.warn({ err: error, teamId: caller.teamId }, 'live event stream failed');
    } finally {
      await stream.close();
    }
  }

  /** Ends every open stream so the HTTP server can close; clients reconnect elsewhere with Last-Event-ID. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.open].map((s) => s.close()));
  }
}

import { Actor } from '@wrenn/contracts';
import { headers as natsHeaders, MsgHdrs } from 'nats';

/**
 * The event envelope of DESIGN §2: metadata in NATS headers, the event's data as the JSON body.
 * Headers keep the body a pure schema of the event type, and let consumers route, dedupe and
 * audit without parsing bodies.
 */
export const EventHeader = {
  Type: 'Wrenn-Event-Type',
  Version: 'Wrenn-Event-Version',
  MsgId: 'Nats-Msg-Id',
  CorrelationId: 'Wrenn-Correlation-Id',
  CausationId: 'Wrenn-Causation-Id',
  Actor: 'Wrenn-Actor',
  TeamId: 'Wrenn-Team-Id',
  OccurredAt: 'Wrenn-Occurred-At',
} as const;

export interface EventMetadata {
  correlationId: string;
  /** Id of the command (or event) that caused this event; also the idempotency key. */
  causationId: string;
  actor: Actor;
  teamId: string;
}

/** An event as a decider emits it. */
export interface NewEvent<T = unknown> {
  /** Set when the caller must be able to publish the same event again (outbox relays): dedup key. */
  id?: string;
  type: string;
  version?: number;
  data: T;
}

/** An event as read back from the stream. */
export interface StoredEvent<T = unknown> extends EventMetadata {
  id: string;
  type: string;
  version: number;
  subject: string;
  aggregate: string;
  aggregateId: string;
  data: T;
  occurredAt: string;
  /** Stream sequence: a global, gap-tolerant order of all events. */
  seq: number;
}

/** Thrown when a message cannot be read as an event: parked, never retried. */
export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEventError';
  }
}

const ACTOR_KINDS: ReadonlyArray<Actor['kind']> = ['user', 'api_key', 'system', 'anonymous'];

export function encodeActor(actor: Actor): string {
  return `${actor.kind}:${actor.id}`;
}

export function decodeActor(raw: string): Actor {
  const colon = raw.indexOf(':');
  const kind = raw.slice(0, colon) as Actor['kind'];
  if (colon <= 0 || !ACTOR_KINDS.includes(kind)) throw new MalformedEventError(`bad actor header "${raw}"`);
  return { kind, id: raw.slice(colon + 1) };
}

export function encodeHeaders(id: string, event: NewEvent, meta: EventMetadata, occurredAt: string): MsgHdrs {
  const h = natsHeaders();
  h.set(EventHeader.Type, event.type);
  h.set(EventHeader.Version, String(event.version ?? 1));
  h.set(EventHeader.MsgId, id);
  h.set(EventHeader.CorrelationId, meta.correlationId);
  h.set(EventHeader.CausationId, meta.causationId);
  h.set(EventHeader.Actor, encodeActor(meta.actor));
  h.set(EventHeader.TeamId, meta.teamId);
  h.set(EventHeader.OccurredAt, occurredAt);
  return h;
}

export interface RawEventMessage {
  subject: string;
  seq: number;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function headersToRecord(h: MsgHdrs | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.values(key);
  return out;
}

export function decodeEvent(raw: RawEventMessage, parseSubject: (s: string) => { aggregate: string; id: string } | null): StoredEvent {
  const h = raw.headers;
  if (!h) throw new MalformedEventError('message has no headers');
  // nats.js keeps parsed headers in a Map (MsgHdrsImpl.headers); its get() copies and filters
  // the key list on every call, which a replay pays eight times per event. Exact-case lookups
  // in the Map are what get() does by default, so read it directly when it is there.
  const map = (h as unknown as { headers?: unknown }).headers;
  const lookup = map instanceof Map ? (name: string): string => (map.get(name) as string[] | undefined)?.[0] ?? '' : (name: string) => h.get(name);
  const need = (name: string): string => {
    const value = lookup(name);
    if (!value) throw new MalformedEventError(`missing header ${name}`);
    return value;
  };
  const parts = parseSubject(raw.subject);
  if (!parts) throw new MalformedEventError(`subject ${raw.subject} is not an event subject`);
  const version = Number(need(EventHeader.Version));
  if (!Number.isInteger(version) || version < 1) throw new MalformedEventError(`bad event version "${lookup(EventHeader.Version)}"`);
  let data: unknown;
  try {
    data = JSON.parse(decoder.decode(raw.data));
  } catch (error) {
    throw new MalformedEventError(`body is not JSON: ${(error as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new MalformedEventError('body is not a JSON object');
  return {
    id: need(EventHeader.MsgId),
    type: need(EventHeader.Type),
    version,
    subject: raw.subject,
    aggregate: parts.aggregate,
    aggregateId: parts.id,
    data,
    correlationId: need(EventHeader.CorrelationId),
    causationId: need(EventHeader.CausationId),
    actor: decodeActor(need(EventHeader.Actor)),
    teamId: need(EventHeader.TeamId),
    occurredAt: need(EventHeader.OccurredAt),
    seq: raw.seq,
  };
}

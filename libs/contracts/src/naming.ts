/**
 * Every NATS name the platform uses, defined once.
 *
 * A deployment may set a namespace (WRENN_NS) so that two platforms — or a test run and a
 * developer's instance — can share one NATS server without seeing each other's traffic.
 * The empty namespace yields exactly the names of the design: stream WRENN_EVENTS,
 * subjects evt.<aggregate>.<id>, host.<hostId>.<op>, KV bucket hosts.
 */
export const Aggregate = {
  Sandbox: 'sandbox',
  Template: 'template',
  Team: 'team',
  User: 'user',
  Host: 'host',
  /** A team's quota holdings and refusals (evt.quota.<teamId>), apart from its identity events. */
  Quota: 'quota',
} as const;
export type Aggregate = (typeof Aggregate)[keyof typeof Aggregate];

export interface Naming {
  readonly namespace: string;
  readonly stream: string;
  readonly hostsBucket: string;
  /** Platform secrets generated once and shared by every replica (e.g. the envd token key). */
  readonly secretsBucket: string;
  /**
   * Public keys the platform publishes for its own parts (the key host agents verify data-plane
   * tokens with). Readable by host agents, writable only by the gateway: whoever writes here
   * decides whose tokens an agent accepts.
   */
  readonly publicKeysBucket: string;
  /** Last API use of each sandbox (key: sandbox id, value: unix ms), read by the TTL reaper. */
  readonly activityBucket: string;
  /** Template names taken per team (key: <teamId>.<name>, value: template id). */
  readonly templateNamesBucket: string;
  /** All event subjects, for the stream definition and tailing. */
  readonly eventsWildcard: string;
  eventSubject(aggregate: Aggregate, id: string): string;
  aggregateWildcard(aggregate: Aggregate): string;
  /** Parses evt.<aggregate>.<id> back into its parts; null when the subject is not an event subject. */
  parseEventSubject(subject: string): { aggregate: string; id: string } | null;
  hostSubject(hostId: string, op: string): string;
  hostWildcard(hostId: string): string;
  commandSubject(service: string, command: string): string;
  /** Queue group a service's replicas share, so each command is handled once. */
  queueGroup(service: string): string;
  consumerName(projection: string): string;
  /**
   * Where the auth service announces API keys that stopped being valid as they were (revoked,
   * and whatever else changes a key), so every gateway drops its cached verdict at once.
   */
  readonly apiKeyInvalidations: string;
}

const NAMESPACE_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Every NATS name under `namespace` (WRENN_NS, read by @wrenn/config; empty in production). */
export function naming(namespace: string): Naming {
  if (namespace !== '' && !NAMESPACE_RE.test(namespace)) {
    throw new Error(`invalid WRENN_NS "${namespace}": lower-case letters, digits, _ and - only`);
  }
  const p = namespace === '' ? '' : `${namespace}.`;
  const suffix = namespace === '' ? '' : `_${namespace}`;
  const evtPrefix = `${p}evt.`;
  return {
    namespace,
    stream: `WRENN_EVENTS${suffix}`,
    hostsBucket: `hosts${suffix}`,
    secretsBucket: `secrets${suffix}`,
    publicKeysBucket: `public-keys${suffix}`,
    activityBucket: `sandbox-activity${suffix}`,
    templateNamesBucket: `template-names${suffix}`,
    eventsWildcard: `${evtPrefix}>`,
    eventSubject: (aggregate, id) => `${evtPrefix}${aggregate}.${id}`,
    aggregateWildcard: (aggregate) => `${evtPrefix}${aggregate}.*`,
    parseEventSubject(subject) {
      if (!subject.startsWith(evtPrefix)) return null;
      const rest = subject.slice(evtPrefix.length);
      const dot = rest.indexOf('.');
      if (dot <= 0 || dot === rest.length - 1) return null;
      return { aggregate: rest.slice(0, dot), id: rest.slice(dot + 1) };
    },
    hostSubject: (hostId, op) => `${p}host.${hostId}.${op}`,
    hostWildcard: (hostId) => `${p}host.${hostId}.>`,
    commandSubject: (service, command) => `${p}cmd.${service}.${command}`,
    queueGroup: (service) => `${p}${service}`,
    consumerName: (projection) => `proj_${projection}${suffix}`,
    apiKeyInvalidations: `${p}auth.api-keys.invalidated`,
  };
}

/** The data-plane token verify key's entry in the public-keys bucket (written by gateways, read by agents). */
export const DATA_PLANE_VERIFY_KEY_ENTRY = 'data-plane-verify-key';

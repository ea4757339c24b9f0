import { Aggregate, DATA_PLANE_VERIFY_KEY_ENTRY, HostOp, Naming, SchedulerCommand, ServiceName } from '@wrenn/contracts';

/**
 * Who connects to NATS. Every service has its own identity (its replicas share it); every host
 * agent has one of its own, named by its host id. `admin` is the operator's CLI (reads the log
 * and the hosts bucket).
 */
export type ServiceIdentity =
  | typeof ServiceName.Gateway
  | typeof ServiceName.Auth
  | typeof ServiceName.SandboxScheduler
  | typeof ServiceName.Projector
  | typeof ServiceName.SnapshotCatalog
  | typeof ServiceName.Reaper
  | 'admin';
export type NatsIdentity = { kind: 'service'; service: ServiceIdentity } | { kind: 'host'; hostId: string };

export const SERVICE_IDENTITIES: readonly ServiceIdentity[] = [
  ServiceName.Gateway,
  ServiceName.Auth,
  ServiceName.SandboxScheduler,
  ServiceName.Projector,
  ServiceName.SnapshotCatalog,
  ServiceName.Reaper,
  'admin',
];

const HOST_ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class InvalidIdentityError extends Error {
  readonly code = 'invalid_nats_identity';
}

export function hostIdentity(hostId: string): NatsIdentity {
  if (!HOST_ID_RE.test(hostId)) throw new InvalidIdentityError(`invalid host id "${hostId}": lower-case letters, digits and - only, at most 63`);
  return { kind: 'host', hostId };
}

export function serviceIdentity(service: string): NatsIdentity {
  if (!(SERVICE_IDENTITIES as readonly string[]).includes(service)) {
    throw new InvalidIdentityError(`unknown service "${service}"; one of: ${SERVICE_IDENTITIES.join(', ')}`);
  }
  return { kind: 'service', service: service as ServiceIdentity };
}

/** The name of an identity's user JWT and of its creds file (`<name>.creds`). */
export function identityName(identity: NatsIdentity): string {
  return identity.kind === 'host' ? `host-${identity.hostId}` : identity.service;
}

/**
 * Each identity receives replies only under its own inbox prefix, so no client can subscribe to
 * another's replies (an API key at creation, a signup, an envd token all travel as replies).
 */
export function inboxPrefix(identity: NatsIdentity, names: Naming): string {
  const ns = names.namespace === '' ? '' : `${names.namespace}.`;
  return identity.kind === 'host' ? `_INBOX.${ns}h.${identity.hostId}` : `_INBOX.${ns}s.${identity.service}`;
}

export interface Permissions {
  pub: { allow: string[] };
  sub: { allow: string[] };
  /** Present for responders: may publish one reply to the reply subject of a request it received. */
  resp?: { max: number; ttl: number };
}

const api = (rest: string) => `$JS.API.${rest}`;

/** Reading a stream: its info, single messages, and ordered or durable consumers of its own making. */
function streamReader(stream: string): string[] {
  return [
    api(`STREAM.INFO.${stream}`),
    api(`STREAM.MSG.GET.${stream}`),
    api(`CONSUMER.CREATE.${stream}`),
    api(`CONSUMER.CREATE.${stream}.>`),
    api(`CONSUMER.DURABLE.CREATE.${stream}.*`),
    api(`CONSUMER.INFO.${stream}.*`),
    api(`CONSUMER.DELETE.${stream}.*`),
    api(`CONSUMER.MSG.NEXT.${stream}.*`),
    `$JS.ACK.${stream}.>`,
  ];
}

/** Creating the events stream or bringing it to the expected config (EventStore.ensureStream). */
function streamOwner(stream: string): string[] {
  return [api(`STREAM.INFO.${stream}`), api(`STREAM.CREATE.${stream}`), api(`STREAM.UPDATE.${stream}`)];
}

/** A KV bucket: `keys` readable (direct gets by key), created when missing when `create`. */
function kvRead(bucket: string, keys = '>', create = true): string[] {
  const stream = `KV_${bucket}`;
  return [
    api(`STREAM.INFO.${stream}`),
    api(`DIRECT.GET.${stream}.$KV.${bucket}.${keys}`),
    ...(keys === '>' ? [api(`STREAM.MSG.GET.${stream}`)] : []),
    ...(create ? [api(`STREAM.CREATE.${stream}`)] : []),
  ];
}

/** Watching a bucket (an ordered consumer on its stream, delivered to the inbox). */
function kvWatch(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [api(`CONSUMER.CREATE.${stream}`), api(`CONSUMER.CREATE.${stream}.>`), api(`CONSUMER.DELETE.${stream}.*`), api(`CONSUMER.INFO.${stream}.*`)];
}

function kvWrite(bucket: string, keys = '>'): string[] {
  return [`$KV.${bucket}.${keys}`];
}

/** Appending to aggregates (JetStream publish, the ack comes back to the inbox); version reads by MSG.GET. */
function eventAppend(names: Naming, aggregates: Aggregate[]): string[] {
  return [...aggregates.map((a) => names.aggregateWildcard(a)), api(`STREAM.MSG.GET.${names.stream}`)];
}

function commands(names: Naming, service: string, commands: readonly string[] | '*'): string[] {
  return commands === '*' ? [names.commandSubject(service, '*')] : commands.map((c) => names.commandSubject(service, c));
}

function hostCommands(names: Naming, ops: readonly string[]): string[] {
  return ops.map((op) => names.hostSubject('*', op));
}

const uniq = (xs: string[]) => [...new Set(xs)];

/**
 * What each identity may publish and subscribe to: exactly what the service does, read off its
 * code (docs/security.md, "The control plane", has the table). Anything else is refused by the server.
 */
export function permissionsFor(identity: NatsIdentity, names: Naming): Permissions {
  const inbox = `${inboxPrefix(identity, names)}.>`;
  const common = [api('INFO')];
  const responder = { max: 1, ttl: 0 };
  if (identity.kind === 'host') {
    const h = identity.hostId;
    return {
      pub: {
        allow: uniq([
          ...common,
          // Its own heartbeat in the hosts bucket (the control plane creates the bucket).
          ...kvWrite(names.hostsBucket, h),
          api(`STREAM.INFO.KV_${names.hostsBucket}`),
          // Its own aggregate in the log: host.agent_started, versioned by a direct get of its subject.
          names.eventSubject(Aggregate.Host, h),
          api(`STREAM.INFO.${names.stream}`),
          api(`DIRECT.GET.${names.stream}.${names.eventSubject(Aggregate.Host, h)}`),
          // The gateways' public keys, the data-plane verify key among them (public, so the whole
          // bucket is readable; only gateways write it).
          ...kvRead(names.publicKeysBucket, '>', false),
        ]),
      },
      sub: { allow: [names.hostWildcard(h), inbox] },
      resp: responder,
    };
  }
  const stream = names.stream;
  switch (identity.service) {
    case ServiceName.Gateway:
      return {
        pub: {
          allow: uniq([
            ...common,
            // Only the request subjects of the services it fronts; never a host command.
            ...commands(names, ServiceName.SandboxScheduler, '*'),
            ...commands(names, ServiceName.SnapshotCatalog, '*'),
            ...commands(names, ServiceName.Auth, '*'),
            // Live events (SSE) and the follower of sandbox events that keeps running sandboxes
            // in memory: ordered consumers on the log.
            ...streamReader(stream),
            // Hosts (health, data-plane and envd-proxy addresses, watched so a data-plane call
            // reads them from memory), API activity, the envd token key.
            ...kvRead(names.hostsBucket),
            ...kvWatch(names.hostsBucket),
            ...kvRead(names.activityBucket),
            ...kvWrite(names.activityBucket),
            ...kvRead(names.secretsBucket),
            ...kvWrite(names.secretsBucket),
            // The data-plane token verify key it publishes for host agents.
            ...kvRead(names.publicKeysBucket),
            ...kvWrite(names.publicKeysBucket, DATA_PLANE_VERIFY_KEY_ENTRY),
          ]),
        },
        // Its inbox, and the auth service's word that a cached API key verdict is stale.
        sub: { allow: [inbox, names.apiKeyInvalidations] },
      };
    case ServiceName.Auth:
      return {
        pub: {
          allow: uniq([
            ...common,
            ...streamOwner(stream),
            ...eventAppend(names, [Aggregate.User, Aggregate.Team]),
            // Tells the gateways which cached API key verdicts a revocation made stale; only auth may.
            names.apiKeyInvalidations,
          ]),
        },
        sub: { allow: [...commands(names, ServiceName.Auth, '*'), inbox] },
        resp: responder,
      };
    case ServiceName.SandboxScheduler:
      return {
        pub: {
          allow: uniq([
            ...common,
            ...streamOwner(stream),
            ...streamReader(stream),
            ...eventAppend(names, [Aggregate.Sandbox, Aggregate.Quota]),
            // Drives every host: every host command.
            names.hostSubject('*', '*'),
            // Places on live hosts: watches their heartbeats.
            ...kvRead(names.hostsBucket),
            ...kvWatch(names.hostsBucket),
          ]),
        },
        sub: { allow: [...commands(names, ServiceName.SandboxScheduler, '*'), inbox] },
        resp: responder,
      };
    case ServiceName.Projector:
      return {
        // Durable consumers on the log, one per read model, and their acks: nothing else. It
        // neither creates the stream nor appends, serves no commands and publishes no request.
        pub: { allow: uniq([...common, ...streamReader(stream)]) },
        sub: { allow: [inbox] },
      };
    case ServiceName.SnapshotCatalog:
      return {
        pub: {
          allow: uniq([
            ...common,
            ...streamOwner(stream),
            ...streamReader(stream),
            ...eventAppend(names, [Aggregate.Template]),
            // Freezes and deletes templates on the host that holds them.
            ...hostCommands(names, [HostOp.CreateTemplate, HostOp.DeleteTemplate]),
            ...kvRead(names.hostsBucket),
            ...kvRead(names.templateNamesBucket),
            ...kvWrite(names.templateNamesBucket),
          ]),
        },
        sub: { allow: [...commands(names, ServiceName.SnapshotCatalog, '*'), inbox] },
        resp: responder,
      };
    case ServiceName.Reaper:
      return {
        pub: {
          allow: uniq([
            ...common,
            ...streamOwner(stream),
            ...streamReader(stream),
            // Settles interrupted operations through their owners' commands.
            ...commands(names, ServiceName.SandboxScheduler, Object.values(SchedulerCommand)),
            ...commands(names, ServiceName.SnapshotCatalog, '*'),
            // The reconciler: each host's list, and destroy for orphans and vanished sandboxes.
            ...hostCommands(names, [HostOp.List, HostOp.Destroy]),
            ...kvRead(names.hostsBucket),
            ...kvRead(names.activityBucket),
          ]),
        },
        sub: { allow: [inbox] },
      };
    case 'admin':
      return {
        // `wrenn events tail|replay`, `wrenn host ls`: reads only.
        pub: { allow: uniq([...common, ...streamReader(stream), ...kvRead(names.hostsBucket, '>', false)]) },
        sub: { allow: [inbox] },
      };
  }
}

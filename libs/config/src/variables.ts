import { z } from 'zod';

/**
 * Every environment variable the platform reads, in one place: its schema (applied to the raw
 * string), its default, what it expects and what it sets. `loadConfig` and `variable` are the
 * only readers of the environment; the README's configuration table is rendered from this list
 * (`npm run docs:config`), so what is documented is what is parsed.
 */

/** Who reads a variable: shown in the README's table. */
export type Reader =
  | 'every service'
  | 'gateway'
  | 'auth'
  | 'sandbox-scheduler'
  | 'reaper'
  | 'host agent'
  | 'gateway, host agent'
  | 'gateway, auth'
  | 'gateway, sandbox-scheduler'
  | 'CLI'
  | 'tests';

export interface VariableSpec<T> {
  /** Applied to the raw value when it is set and not empty; an unset or empty variable takes the default. */
  schema: z.ZodType<T, string>;
  /** What a valid value looks like, for the error message and the README. */
  expects: string;
  fallback: T;
  /** The default as the README shows it, when it is computed rather than a constant. */
  defaultDoc?: string;
  readBy: Reader;
  doc: string;
}

const spec = <T>(s: VariableSpec<T>): VariableSpec<T> => s;

const DIGITS = /^[0-9]+$/;

function integer(fallback: number, readBy: Reader, doc: string, defaultDoc?: string): VariableSpec<number> {
  return spec({ schema: z.string().regex(DIGITS).transform(Number), expects: 'a non-negative integer', fallback, defaultDoc, readBy, doc });
}

function positive(fallback: number, readBy: Reader, doc: string): VariableSpec<number> {
  return spec({
    schema: z.string().regex(DIGITS).transform(Number).pipe(z.number().int().positive()),
    expects: 'a positive integer',
    fallback,
    readBy,
    doc,
  });
}

function optionalInteger(readBy: Reader, doc: string, defaultDoc: string): VariableSpec<number | undefined> {
  return spec<number | undefined>({ schema: z.string().regex(DIGITS).transform(Number), expects: 'a non-negative integer', fallback: undefined, defaultDoc, readBy, doc });
}

function text(fallback: string, readBy: Reader, doc: string, defaultDoc?: string): VariableSpec<string> {
  return spec({ schema: z.string(), expects: 'text', fallback, defaultDoc, readBy, doc });
}

function optionalText(readBy: Reader, doc: string, defaultDoc: string, expects = 'text'): VariableSpec<string | undefined> {
  return spec<string | undefined>({ schema: z.string(), expects, fallback: undefined, defaultDoc, readBy, doc });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, fallback: T[number], readBy: Reader, doc: string): VariableSpec<T[number]> {
  return spec({ schema: z.enum(values), expects: `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`, fallback, readBy, doc });
}

const BOOLEAN = { '1': true, true: true, '0': false, false: false } as const;
function flag(readBy: Reader, doc: string): VariableSpec<boolean> {
  return spec({ schema: z.enum(['1', 'true', '0', 'false']).transform((v) => BOOLEAN[v]), expects: '1, true, 0 or false', fallback: false, readBy, doc });
}

/**
 * A PostgreSQL connection URL. Only the scheme is checked: pg also takes forms a WHATWG URL
 * refuses, such as `postgres://postgres@/wrenn` (the local socket).
 */
const POSTGRES_URL = /^postgres(ql)?:\/\/\S*$/;
const POSTGRES_EXPECTS = 'a postgres:// URL';
function postgresUrl(fallback: string, readBy: Reader, doc: string): VariableSpec<string> {
  return spec({ schema: z.string().regex(POSTGRES_URL), expects: POSTGRES_EXPECTS, fallback, readBy, doc });
}

function list(readBy: Reader, doc: string): VariableSpec<string[]> {
  return spec({
    schema: z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
    expects: 'a comma-separated list',
    fallback: [],
    defaultDoc: 'empty',
    readBy,
    doc,
  });
}

/** The least key length HS256 is used with: 256 bits, the hash's own size (RFC 7518 §3.2). */
export const JWT_SECRET_MIN_BYTES = 32;

const QUOTA_KEYS = ['runningSandboxes', 'vcpus', 'memoryMb', 'pausedSandboxes', 'snapshotBytes', 'createsPerMinute'] as const;
export type QuotaOverrides = Record<string, Partial<Record<(typeof QUOTA_KEYS)[number], number>>>;

/** Per-team quota overrides: a JSON object keyed by team id, each value a partial set of quota figures. */
const quotaOverrides = z.string().transform((raw, ctx): QuotaOverrides => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'WRENN_QUOTA_OVERRIDES must be JSON: {"<team id>": {"runningSandboxes": 50, …}}' });
    return z.NEVER;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    ctx.addIssue({ code: 'custom', message: 'WRENN_QUOTA_OVERRIDES must be a JSON object keyed by team id' });
    return z.NEVER;
  }
  for (const [team, limits] of Object.entries(parsed as Record<string, unknown>)) {
    for (const [key, value] of Object.entries(limits as Record<string, unknown>)) {
      if (!(QUOTA_KEYS as readonly string[]).includes(key) || !Number.isInteger(value) || (value as number) < 0) {
        ctx.addIssue({ code: 'custom', message: `WRENN_QUOTA_OVERRIDES: ${team}.${key} must be one of ${QUOTA_KEYS.join(', ')} with a non-negative integer` });
      }
    }
  }
  return parsed as QuotaOverrides;
});

/** A configured JWT key shorter than 32 bytes stops the service before it serves anything. */
const jwtSecret = z.string().check((ctx) => {
  const bytes = Buffer.byteLength(ctx.value, 'utf8');
  if (bytes < JWT_SECRET_MIN_BYTES) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message:
        `WRENN_JWT_SECRET is ${bytes} bytes; it must be at least ${JWT_SECRET_MIN_BYTES} bytes ` +
        '(e.g. `openssl rand -base64 48`), or unset to have one generated and kept in PostgreSQL',
    });
  }
});

export const VARIABLES = {
  // Connections
  NATS_URL: text('nats://127.0.0.1:4222', 'every service', 'NATS server(s) every service connects to'),
  NATS_CREDS: optionalText('every service', 'one NATS creds file (a process running one service)', 'none', 'a file path'),
  WRENN_NATS_CREDS_DIR: optionalText('every service', 'a directory of `<identity>.creds`, one per service', 'none', 'a directory'),
  WRENN_NATS_INSECURE: flag('every service', 'connect to NATS without credentials (an explicit choice; with no creds and not this, a service refuses to start)'),
  DATABASE_URL: postgresUrl('postgres://postgres@127.0.0.1:5432/wrenn', 'every service', 'the administrative PostgreSQL role: owns the schema, runs the migrations'),
  WRENN_NS: text('', 'every service', 'prefix of every NATS name (stream, subjects, buckets); empty in production', 'empty'),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', 'every service', 'pino log level'),
  WRENN_STREAM_REPLICAS: positive(1, 'every service', 'replicas of the event stream when it is created (a NATS cluster)'),
  WRENN_SECRET: text('', 'every service', 'platform secret for derived tokens (envd access tokens); empty = generated once, kept in NATS KV', 'empty'),

  // Gateway
  PORT: integer(8080, 'gateway', 'the REST API port'),
  WRENN_BIND: text('0.0.0.0', 'gateway', 'the address the REST API listens on'),
  WRENN_TRUST_PROXY: text('', 'gateway, auth', "Express's `trust proxy`: addresses, CIDRs, `loopback`, `uniquelocal` or a hop count; empty trusts none", 'empty'),
  WRENN_RYW_TIMEOUT_MS: integer(5000, 'gateway', 'how long a write waits for its read model to catch up'),
  WRENN_ACTIVITY_THROTTLE_MS: integer(1000, 'gateway', 'least time between two activity writes of one sandbox (TTL bookkeeping)'),
  WRENN_SSE_HEARTBEAT_MS: integer(15_000, 'gateway', 'heartbeat comment interval of an idle live-events stream (at least 100)'),
  WRENN_SSE_MAX_REPLAY: integer(10_000, 'gateway', 'the furthest back (in events) a live-events stream starts'),
  WRENN_RATE_PER_KEY_PER_MIN: integer(1200, 'gateway', 'requests per minute per API key (0 = off)'),
  WRENN_RATE_PER_ADDRESS_PER_MIN: integer(1200, 'gateway', 'requests per minute per client address (0 = off)'),
  WRENN_RATE_FLUSH_MS: integer(250, 'gateway', 'how often a gateway adds its request counts to the shared windows in PostgreSQL (at least 10); replicas may together pass a budget by the calls they take in one interval'),
  WRENN_API_KEY_CACHE_TTL_MS: integer(10_000, 'gateway', 'how long a gateway trusts a verified API key without asking the auth service (0 = no cache); revocations evict at once through NATS'),
  WRENN_MAX_STREAMS_PER_KEY: integer(16, 'gateway', 'open live-event and exec streams per API key, each'),
  WRENN_EXEC_CONTROL_PER_SEC: integer(100, 'gateway', 'control messages per second an exec stream may send before it is closed'),
  WRENN_EXEC_CONTROL_QUEUE_MAX: integer(64, 'gateway', 'control messages waiting before an exec stream is closed as flooding'),
  WRENN_LIST_DIR_PAGE_MAX: integer(1000, 'gateway', 'entries per directory-listing page'),
  WRENN_ENVD_ERROR_BODY_MAX: integer(64 * 1024, 'gateway', 'bytes of an envd error body read'),
  WRENN_DATA_PLANE_SIGNING_KEY: optionalText('gateway', "the gateway's Ed25519 host-token key (PKCS#8, PEM or base64 DER)", 'generated into NATS KV', 'a PEM or base64 DER key'),
  WRENN_DATA_PLANE_TOKEN_TTL_SEC: integer(60, 'gateway', 'lifetime of a host token (at least 1)'),

  // Identity
  WRENN_JWT_SECRET: spec<string | undefined>({
    schema: jwtSecret,
    expects: `at least ${JWT_SECRET_MIN_BYTES} bytes`,
    fallback: undefined,
    defaultDoc: 'generated once, kept in PostgreSQL',
    readBy: 'gateway, auth',
    doc: 'HS256 key of user tokens',
  }),
  WRENN_JWT_TTL_SEC: integer(3600, 'auth', 'lifetime of a user token'),
  WRENN_LOGIN_WINDOW_SEC: integer(300, 'auth', 'the login rate-limit window'),
  WRENN_LOGIN_MAX_PER_EMAIL: integer(10, 'auth', 'login attempts per email per window'),
  WRENN_LOGIN_MAX_PER_ADDRESS: integer(100, 'auth', 'login attempts per client address per window'),
  WRENN_SIGNUP_WINDOW_SEC: integer(3600, 'auth', 'the signup rate-limit window'),
  WRENN_SIGNUP_MAX_PER_ADDRESS: integer(20, 'auth', 'signups per client address per window'),
  WRENN_SIGNUP_MAX_PER_EMAIL: integer(5, 'auth', 'signups per email per window'),

  // Scheduling, quotas and prices
  WRENN_HOST_CREATE_TIMEOUT_MS: integer(60_000, 'sandbox-scheduler', 'how long the scheduler waits for a host agent to create a sandbox'),
  WRENN_HOST_COMMAND_TIMEOUT_MS: integer(30_000, 'sandbox-scheduler', 'how long the scheduler waits for any other host command'),
  WRENN_QUOTA_RUNNING_SANDBOXES: integer(20, 'sandbox-scheduler', 'per-team quota: running sandboxes'),
  WRENN_QUOTA_VCPUS: integer(64, 'sandbox-scheduler', 'per-team quota: vCPUs of running sandboxes'),
  WRENN_QUOTA_MEMORY_MB: integer(65_536, 'sandbox-scheduler', 'per-team quota: memory of running sandboxes (MiB)'),
  WRENN_QUOTA_PAUSED_SANDBOXES: integer(100, 'sandbox-scheduler', 'per-team quota: paused sandboxes'),
  WRENN_QUOTA_SNAPSHOT_BYTES: integer(100 * 1024 ** 3, 'sandbox-scheduler', 'per-team quota: bytes of snapshots'),
  WRENN_QUOTA_CREATES_PER_MINUTE: integer(60, 'sandbox-scheduler', 'per-team quota: creates per minute'),
  WRENN_QUOTA_OVERRIDES: spec<QuotaOverrides>({
    schema: quotaOverrides,
    expects: 'a JSON object keyed by team id',
    fallback: {},
    defaultDoc: 'none',
    readBy: 'sandbox-scheduler',
    doc: 'per-team quota overrides, e.g. `{"team_…": {"runningSandboxes": 50}}`',
  }),
  WRENN_PRICE_VCPU_HOUR_MICROUSD: integer(50_000, 'gateway, sandbox-scheduler', 'price of a vCPU-hour in micro-dollars'),
  WRENN_PRICE_MEMORY_GIB_HOUR_MICROUSD: integer(5_000, 'gateway, sandbox-scheduler', 'price of a GiB-hour of memory in micro-dollars'),
  WRENN_PRICE_STORAGE_GIB_HOUR_MICROUSD: integer(150, 'gateway, sandbox-scheduler', 'price of a GiB-hour of snapshots in micro-dollars'),

  // Reaper
  WRENN_REAPER_INTERVAL_MS: positive(5000, 'reaper', 'time between two reaper passes'),
  WRENN_REAPER_SETTLE_MS: positive(10_000, 'reaper', 'how long a host-list difference must last before the reconciler acts on it'),
  WRENN_REAPER_STARTUP_GRACE_MS: positive(15_000, 'reaper', 'after the reaper starts, how long hosts get to beat before their sandboxes can be lost'),
  WRENN_REAPER_PENDING_GRACE_MS: positive(30_000, 'reaper', 'how long a sandbox may stay pending before it is failed'),

  // Metrics and traces
  WRENN_METRICS: oneOf(['on', 'off', '1', '0'], 'on', 'every service', 'off (or 0) starts no metrics listener; the gateway still answers /metrics on its own port'),
  WRENN_METRICS_HOST: text('127.0.0.1', 'every service', "address of the process's metrics listener (0.0.0.0 inside a container)"),
  WRENN_METRICS_PORT: integer(9464, 'every service', "port of the process's metrics listener (0 = any free port); one per process on a machine"),
  WRENN_OTLP_ENDPOINT: optionalText('every service', 'OTLP/HTTP collector base URL; traces go to `<url>/v1/traces`', 'unset: tracing off', 'an http(s) URL'),
  WRENN_OTLP_TRACES_ENDPOINT: optionalText('every service', 'full OTLP/HTTP traces URL (overrides WRENN_OTLP_ENDPOINT)', 'unset', 'an http(s) URL'),
  WRENN_OTLP_HEADERS: text('', 'every service', 'extra OTLP HTTP headers, `key=value` pairs separated by commas', 'empty'),
  WRENN_TRACE_SAMPLE_RATIO: spec({
    schema: z.string().transform(Number).pipe(z.number().min(0).max(1)),
    expects: 'a number between 0 and 1',
    fallback: 1,
    readBy: 'every service',
    doc: 'fraction of new traces kept; a sampled parent is always followed',
  }),
  WRENN_TRACE_SERVICE_NAME: text('wrenn', 'every service', "the traces' `service.name` (each span also names its service)"),

  // Host agent
  WRENN_HOST_ID: optionalText('host agent', 'this host\'s id', 'the hostname, lower-cased'),
  WRENN_RUNTIME: oneOf(['namespace', 'firecracker', 'auto'], 'namespace', 'host agent', '`auto` picks firecracker when its binary, kernel and /dev/kvm are usable'),
  WRENN_STATE_DIR: text('/var/lib/wrenn', 'host agent', 'state of the host agent (and of `wrenn start`: NATS auth, database roles)'),
  WRENN_IMAGE_DIR: optionalText('host agent', 'base images and templates', '`$WRENN_STATE_DIR/images`', 'a directory'),
  WRENN_HOST_VCPUS: optionalInteger('host agent', 'vCPUs this host reports; informational: CPU is shared by weight (cpu.shares / cpu.weight ∝ a sandbox\'s vCPUs), not counted out at placement', '16 per core'),
  WRENN_HOST_MEMORY_MB: optionalInteger('host agent', 'memory this host offers (MiB): the base of the overcommit of requested memory (agents sharing one machine each take a share); real use is held to the whole machine', 'the machine\'s memory'),
  WRENN_HOST_MEMORY_RESERVE_MB: integer(1024, 'host agent', 'memory never admitted into (MiB): headroom for the host and for sandboxes growing between heartbeats; admission keeps the machine\'s real use under its memory − reserve'),
  WRENN_HOST_MEMORY_OVERCOMMIT: spec({
    schema: z.string().transform(Number).pipe(z.number().positive().max(1000)),
    expects: 'a positive number',
    fallback: 32,
    readBy: 'host agent',
    doc: 'the memory sandboxes ask for (their cgroup limits) may add up to (`WRENN_HOST_MEMORY_MB` − reserve) × this; 32 admits 1,000 sandboxes of 512 MiB on 24 GiB, real use still bounds them',
  }),
  WRENN_HOST_SANDBOX_START_MB: integer(16, 'host agent', 'real memory (MiB) a just-admitted sandbox is counted at until a heartbeat shows what it uses'),
  WRENN_HOST_MAX_SANDBOXES: integer(4096, 'host agent', 'sandboxes this host runs at most (memory usually binds first)'),
  WRENN_HEARTBEAT_MS: integer(2000, 'host agent', 'time between two heartbeats'),
  WRENN_HOST_LEASE_MS: integer(6000, 'host agent', 'a host whose heartbeat is older than this is lost'),
  WRENN_CONTROL_PLANE_WAIT_MS: integer(300_000, 'host agent', 'how long a booting agent waits for the event stream and hosts bucket'),
  WRENN_DATA_PLANE_HOST: text('127.0.0.1', 'host agent', 'the data plane listener\'s address'),
  WRENN_DATA_PLANE_PORT: integer(0, 'host agent', 'the data plane listener\'s port (0 = any free port)'),
  WRENN_ADVERTISE_HOST: text('127.0.0.1', 'host agent', 'the address other machines reach this host\'s data plane at'),
  WRENN_ENVD_PROXY_HOST: optionalText('host agent', 'the envd proxy\'s address (E2B SDK traffic)', '`$WRENN_DATA_PLANE_HOST`', 'an address'),
  WRENN_ENVD_PROXY_PORT: integer(0, 'host agent', 'the envd proxy\'s port (0 = any free port)'),
  WRENN_DATA_PLANE_VERIFY_KEY: optionalText('host agent', 'pins the key host tokens are checked with (SPKI, PEM or base64 DER)', 'read from NATS', 'a PEM or base64 DER key'),
  WRENN_DATA_PLANE_CLOCK_SKEW_SEC: integer(30, 'host agent', 'clock skew allowed on a host token'),
  WRENN_NET_CIDR: optionalText('host agent', 'the range network slots are carved from', 'the network manager\'s own', 'an IPv4 CIDR'),
  WRENN_NET_POOL_SIZE: integer(4, 'host agent', 'network slots kept ready'),
  WRENN_EGRESS_ALLOW: list('host agent', 'CIDRs or domain names every sandbox may reach, even in private ranges'),
  WRENN_WARM_POOL_SIZE: integer(2, 'host agent', 'started base sandboxes kept ready whatever the demand (namespace runtime; 0 = no warm pool at all)'),
  WRENN_WARM_POOL_PER_TEMPLATE_MAX: integer(4, 'host agent', 'most warm sandboxes of one template, demand included (namespace runtime)'),
  WRENN_WARM_POOL_MAX: integer(8, 'host agent', 'most warm sandboxes of all templates together (namespace runtime)'),
  WRENN_WARM_POOL_DEMAND_PER_MIN: integer(6, 'host agent', 'creates of a template in the last minute for each warm sandbox kept for it beyond the base ones (0 = demand keeps none)'),
  WRENN_WARM_POOL_STARTING_MAX: positive(1, 'host agent', 'warm sandboxes started at once in the background (the rest of the cores stay for exec)'),
  WRENN_WARM_POOL_START_INTERVAL_MS: integer(100, 'host agent', 'least time between two warm starts being begun'),
  WRENN_SANDBOX_PIDS_MAX: integer(1024, 'host agent', 'processes per sandbox (namespace runtime)'),
  WRENN_SANDBOX_DISK_MB: integer(4096, 'host agent', 'disk per sandbox in MiB (namespace runtime)'),
  WRENN_DISK_POOL_SIZE: integer(4, 'host agent', 'blank sandbox disks of the default size made ahead (namespace runtime; 0 = made at each create)'),
  WRENN_SANDBOX_ID_BASE: optionalInteger('host agent', 'first user/group id of sandboxes\' id ranges (several agents on one machine)', 'the runtime\'s own'),
  WRENN_FC_BINARY: optionalText('host agent', 'the `firecracker` binary', 'looked up on `PATH`', 'a file path'),
  WRENN_FC_KERNEL: optionalText('host agent', 'the guest kernel (uncompressed vmlinux); required for the Firecracker runtime', 'none', 'a file path'),
  WRENN_FC_STABLE_DIR: text('/run/wrenn/fc-vm', 'host agent', 'the path every VMM sees its root drive under'),
  WRENN_FC_COW_SIZE_MB: integer(8192, 'host agent', 'length of each microVM\'s sparse copy-on-write file'),
  PATH: text('', 'host agent', 'where the Firecracker binary is looked for when `WRENN_FC_BINARY` is unset', 'the process\'s'),

  // CLI
  WRENN_API_URL: optionalText('CLI', 'the API the CLI talks to', 'the one saved by `wrenn login`', 'a URL'),
  WRENN_API_KEY: optionalText('CLI', 'the API key the CLI sends', 'the one saved by `wrenn login`'),
  WRENN_TOKEN: optionalText('CLI', 'the user token the CLI sends', 'the one saved by `wrenn login`'),
  WRENN_PASSWORD: optionalText('CLI', '`wrenn login`\'s password when neither `--password` nor `--password-stdin` is given', 'prompted'),
  XDG_CONFIG_HOME: optionalText('CLI', 'where `wrenn login` saves `wrenn/config.json`', '`~/.config`', 'a directory'),
  WRENN_NATS_AUTH_DIR: optionalText('CLI', '`wrenn nats`\'s operator, account and creds files', '`$WRENN_STATE_DIR/nats-auth`', 'a directory'),
  WRENN_DB_ROLES: oneOf(['on', 'off'], 'on', 'CLI', '`off`: `wrenn start` runs every service as the administrative role instead of one role each'),
  TERM: text('xterm-256color', 'CLI', 'the terminal type `wrenn sandbox shell` gives the sandbox\'s shell'),
  LANG: text('C.UTF-8', 'CLI', 'the locale `wrenn sandbox shell` gives the sandbox\'s shell'),

  // Tests
  WRENN_TEST_PG: postgresUrl('postgres://postgres@127.0.0.1:5432', 'tests', 'the PostgreSQL server test slices make their databases on'),
  WRENN_FAKE_FC_FAULTS: optionalText('tests', 'the file the stand-in VMM shares its injected faults through', 'none', 'a file path'),
} satisfies Record<string, VariableSpec<unknown>>;

export type VariableName = keyof typeof VARIABLES;
export type VariableValue<K extends VariableName> = (typeof VARIABLES)[K] extends VariableSpec<infer T> ? T : never;
export type Environment = { [K in VariableName]: VariableValue<K> };

/** The family of per-service database URLs, e.g. WRENN_DATABASE_URL_SANDBOX_SCHEDULER. */
export const SERVICE_DATABASE_URL_PREFIX = 'WRENN_DATABASE_URL_';

/** A start refused for bad configuration: every bad variable, each named with what it expects. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

function parse<K extends VariableName>(name: K, env: NodeJS.ProcessEnv): Parsed<VariableValue<K>> {
  const s = VARIABLES[name] as VariableSpec<VariableValue<K>>;
  const raw = env[name];
  // Unset and empty are the same: an empty `FOO=` in a unit file or compose file means "default".
  if (raw === undefined || raw === '') return { ok: true, value: s.fallback };
  const result = s.schema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  // A variable's own checks (the JWT key's length, the overrides' shape) say precisely what is wrong.
  const custom = result.error.issues.filter((i) => i.code === 'custom' && i.message.startsWith(name)).map((i) => i.message);
  return { ok: false, problems: custom.length ? custom : [`${name} must be ${s.expects}, got "${raw}"`] };
}

/** One variable, validated: for code that needs only it (the logger, the CLI, test slices). */
export function variable<K extends VariableName>(name: K, env: NodeJS.ProcessEnv = process.env): VariableValue<K> {
  const result = parse(name, env);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.value;
}

/** Every variable, validated at once: a bad start names all of them, not just the first. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const out: Partial<Record<VariableName, unknown>> = {};
  const problems: string[] = [];
  for (const name of Object.keys(VARIABLES) as VariableName[]) {
    const result = parse(name, env);
    if (result.ok) out[name] = result.value;
    else problems.push(...result.problems);
  }
  if (problems.length) throw new ConfigError(problems);
  return out as Environment;
}

/** Each service's own database role URL, by service name (from WRENN_DATABASE_URL_<SERVICE>). */
export function serviceDatabaseUrls(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(SERVICE_DATABASE_URL_PREFIX) || !value) continue;
    if (!POSTGRES_URL.test(value)) problems.push(`${name} must be ${POSTGRES_EXPECTS}, got "${value}"`);
    out[name.slice(SERVICE_DATABASE_URL_PREFIX.length).toLowerCase().replace(/_/g, '-')] = value;
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/**
 * The environment a child process inherits, plus `extra`: for tools the platform runs (image
 * recipes) that need PATH and the like as this process has them.
 */
export function childEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra };
}

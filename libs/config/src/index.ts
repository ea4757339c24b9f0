import type { QuotaFigures } from '@wrenn/contracts';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * All configuration comes from the environment, read once per process. Defaults are what a
 * fresh clone on one host needs: loopback NATS and PostgreSQL, port 8080, state under /var/lib/wrenn.
 */
export interface WrennConfig {
  natsUrl: string;
  /**
   * NATS credentials: one creds file (NATS_CREDS, a process running one service) or a directory
   * of `<identity>.creds` (WRENN_NATS_CREDS_DIR). `natsInsecure` (WRENN_NATS_INSECURE=1) is the
   * explicit choice to connect without any; with none of the three a service refuses to start.
   */
  natsCredsFile?: string;
  natsCredsDir?: string;
  natsInsecure: boolean;
  /**
   * The URL this process connects with. Loaded, it is DATABASE_URL (the administrative role that
   * owns the schema and runs the migrations); a service's config (forService) swaps in its own
   * role's URL when WRENN_DATABASE_URL_<SERVICE> is set.
   */
  databaseUrl: string;
  /** Each service's own role URL, by service name (from WRENN_DATABASE_URL_<SERVICE>). */
  serviceDatabaseUrls: Record<string, string>;
  /** True once databaseUrl is a service's own role: it neither creates the database nor migrates. */
  ownDatabaseRole: boolean;
  port: number;
  /** Prefix for every NATS name (see @wrenn/contracts naming); empty in production. */
  namespace: string;
  logLevel: string;
  host: {
    id: string;
    /** `auto` picks firecracker when its binary, kernel and a usable /dev/kvm are present, else namespace. */
    runtime: 'namespace' | 'firecracker' | 'auto';
    firecracker: FirecrackerConfig;
    stateDir: string;
    imageDir: string;
    vcpus: number;
    memoryMb: number;
    maxSandboxes: number;
    heartbeatMs: number;
    leaseMs: number;
    /** Data plane listener (Connect RPC for the gateway) and the address other hosts use for it. */
    dataPlaneHost: string;
    dataPlanePort: number;
    advertiseHost: string;
    /** Raw HTTP listener that forwards E2B SDK traffic to sandboxes' envd (0 = any free port). */
    envdProxyHost: string;
    envdProxyPort: number;
    /** How long a booting agent waits for the control plane to create the event stream and hosts bucket. */
    controlPlaneWaitMs: number;
  };
  /**
   * Host tokens: what every data-plane and envd-proxy call carries (Ed25519, signed by the
   * gateway, checked by the agent). Keys are PEM or base64 DER; unset = the gateway generates one
   * into the NATS secrets bucket and publishes the public half, which agents read from NATS.
   */
  dataPlaneAuth: {
    /** The gateway's private key (PKCS#8). */
    signingKey?: string;
    /** The key an agent checks tokens with (SPKI); set it to pin the key instead of reading it from NATS. */
    verifyKey?: string;
    tokenTtlSec: number;
    clockSkewSec: number;
  };
  /** Platform secret for derived tokens (envd access tokens); empty = generated once, kept in NATS KV. */
  secret: string;
  /** How long the gateway waits for a projection to catch up with a command's events. */
  readYourWritesTimeoutMs: number;
  /** How long the scheduler waits for a host agent to create a sandbox. */
  hostCreateTimeoutMs: number;
  hostCommandTimeoutMs: number;
  auth: {
    /** HS256 key for user tokens; when unset a random one is generated once and kept in PostgreSQL. */
    jwtSecret?: string;
    jwtTtlSec: number;
    /** Login attempts allowed per email and per client address within one window. */
    loginWindowSec: number;
    loginMaxPerEmail: number;
    loginMaxPerAddress: number;
  };
  /** Prices of usage, in micro-dollars (1e-6 USD) per unit-hour: integers, so bills never drift. */
  prices: {
    vcpuHourMicroUsd: number;
    memoryGibHourMicroUsd: number;
    storageGibHourMicroUsd: number;
  };
  /** How often an idle live-events stream (SSE) sends a heartbeat comment. */
  sseHeartbeatMs: number;
  quotas: QuotaConfig;
  edge: EdgeLimitsConfig;
  observability: ObservabilityConfig;
}

/** Prometheus metrics and OpenTelemetry traces (WRENN_METRICS_*, WRENN_OTLP_*). */
export interface ObservabilityConfig {
  /**
   * The metrics listener of a process (GET /metrics): one per process, whatever number of
   * services it runs. Loopback by default; port 0 picks a free one (logged).
   */
  metricsHost: string;
  metricsPort: number;
  /** False (WRENN_METRICS=off) starts no metrics listener; the gateway still answers /metrics. */
  metricsEnabled: boolean;
  /**
   * OTLP/HTTP traces endpoint (e.g. http://127.0.0.1:4318/v1/traces). Unset = tracing off: no
   * spans are made and nothing is sent.
   */
  otlpTracesEndpoint?: string;
  /** Extra OTLP HTTP headers, `key=value` pairs separated by commas (WRENN_OTLP_HEADERS). */
  otlpHeaders: Record<string, string>;
  /** Fraction of new traces kept, 0..1 (WRENN_TRACE_SAMPLE_RATIO); a sampled parent is always followed. */
  traceSampleRatio: number;
  /** The traces' `service.name` (WRENN_TRACE_SERVICE_NAME, default `wrenn`); each span also names its service. */
  traceServiceName: string;
}

function parseHeaderPairs(raw: string | undefined): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const part of (raw ?? '').split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    pairs[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return pairs;
}

function ratio(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new Error(`${name} must be a number between 0 and 1, got "${raw}"`);
  return value;
}

/** Per-team quotas, enforced by the scheduler's decisions (WRENN_QUOTA_*). */
export interface QuotaConfig {
  defaults: TeamQuotaLimits;
  /** Per-team overrides by team id, from WRENN_QUOTA_OVERRIDES (JSON: {"team_…": {"runningSandboxes": 50}}). */
  overrides: Readonly<Record<string, Partial<TeamQuotaLimits>>>;
}

export type TeamQuotaLimits = QuotaFigures;

/** The limits a team decides under: its overrides over the defaults. */
export function teamQuotaLimits(quotas: QuotaConfig, teamId: string): TeamQuotaLimits {
  return { ...quotas.defaults, ...(quotas.overrides[teamId] ?? {}) };
}

/** Abuse limits at the edge (gateway and auth service). */
export interface EdgeLimitsConfig {
  /**
   * Express's `trust proxy`: which proxies may set X-Forwarded-For. Empty (the default) trusts
   * none, so the client address is the socket's. Otherwise a comma-separated list of addresses,
   * CIDRs or Express's names (`loopback`, `uniquelocal`), or a hop count.
   */
  trustProxy: string;
  /** Sliding windows (seconds) and budgets for signups per client address and per email. */
  signupWindowSec: number;
  signupMaxPerAddress: number;
  signupMaxPerEmail: number;
  /** Requests per minute per API key and per client address for everything else (0 = off). */
  requestsPerMinutePerKey: number;
  requestsPerMinutePerAddress: number;
  /** Open live-event (SSE) and exec streams per API key, each. */
  maxStreamsPerKey: number;
  /** Control messages (resize, signal, …) an exec stream may send per second before it is closed. */
  execControlPerSec: number;
  /** Control messages waiting to be handled before an exec stream is closed as flooding. */
  execControlQueueMax: number;
  /** Entries per directory-listing page. */
  listDirPageMax: number;
  /** The furthest back (in events) an SSE stream starts; an older Last-Event-ID starts there. */
  sseMaxReplay: number;
  /** Bytes of an envd error body read (the rest is dropped). */
  envdErrorBodyMax: number;
}

function parseOverrides(raw: string | undefined): Record<string, Partial<TeamQuotaLimits>> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('WRENN_QUOTA_OVERRIDES must be JSON: {"<team id>": {"runningSandboxes": 50, …}}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('WRENN_QUOTA_OVERRIDES must be a JSON object keyed by team id');
  const keys = ['runningSandboxes', 'vcpus', 'memoryMb', 'pausedSandboxes', 'snapshotBytes', 'createsPerMinute'];
  for (const [team, limits] of Object.entries(parsed as Record<string, unknown>)) {
    for (const [key, value] of Object.entries(limits as Record<string, unknown>)) {
      if (!keys.includes(key) || !Number.isInteger(value) || (value as number) < 0) {
        throw new Error(`WRENN_QUOTA_OVERRIDES: ${team}.${key} must be one of ${keys.join(', ')} with a non-negative integer`);
      }
    }
  }
  return parsed as Record<string, Partial<TeamQuotaLimits>>;
}

/** The Firecracker runtime's host configuration (WRENN_FC_*). */
export interface FirecrackerConfig {
  /** The `firecracker` binary; unset = looked up on PATH. */
  binary?: string;
  /** Guest kernel image (uncompressed vmlinux); required for the runtime. */
  kernel?: string;
  /** Path every VMM sees its root drive under (a tmpfs in its own mount namespace). */
  stableDir: string;
  /** Length of each sandbox's sparse copy-on-write file: the most it can write beyond its image. */
  cowSizeMb: number;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function defaultHostId(): string {
  return hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 63) || 'host';
}

const SERVICE_DATABASE_URL_PREFIX = 'WRENN_DATABASE_URL_';

/** A service's view of the config: its own database role's URL when one is configured. */
export function forService(config: WrennConfig, service: string): WrennConfig {
  const own = config.serviceDatabaseUrls[service];
  return own ? { ...config, databaseUrl: own, ownDatabaseRole: true } : config;
}

/** The least key length HS256 is used with: 256 bits, the hash's own size (RFC 7518 §3.2). */
export const JWT_SECRET_MIN_BYTES = 32;

/** A configured JWT key shorter than 32 bytes stops the service before it serves anything. */
function jwtSecretFrom(env: NodeJS.ProcessEnv): string | undefined {
  const secret = env.WRENN_JWT_SECRET || undefined;
  if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < JWT_SECRET_MIN_BYTES) {
    throw new Error(
      `WRENN_JWT_SECRET is ${Buffer.byteLength(secret, 'utf8')} bytes; it must be at least ${JWT_SECRET_MIN_BYTES} bytes ` +
        `(e.g. \`openssl rand -base64 48\`), or unset to have one generated and kept in PostgreSQL`,
    );
  }
  return secret;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): WrennConfig {
  const stateDir = env.WRENN_STATE_DIR ?? '/var/lib/wrenn';
  const runtime = env.WRENN_RUNTIME ?? 'namespace';
  if (runtime !== 'namespace' && runtime !== 'firecracker' && runtime !== 'auto') {
    throw new Error(`WRENN_RUNTIME must be namespace, firecracker or auto, got "${runtime}"`);
  }
  const memTotalMb = Math.floor(require('node:os').totalmem() / 1024 / 1024);
  return {
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    natsCredsFile: env.NATS_CREDS || undefined,
    natsCredsDir: env.WRENN_NATS_CREDS_DIR || undefined,
    natsInsecure: env.WRENN_NATS_INSECURE === '1' || env.WRENN_NATS_INSECURE === 'true',
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/wrenn',
    serviceDatabaseUrls: Object.fromEntries(
      Object.entries(env)
        .filter(([name, value]) => name.startsWith(SERVICE_DATABASE_URL_PREFIX) && value)
        .map(([name, value]) => [name.slice(SERVICE_DATABASE_URL_PREFIX.length).toLowerCase().replace(/_/g, '-'), value as string]),
    ),
    ownDatabaseRole: false,
    port: int(env, 'PORT', 8080),
    namespace: env.WRENN_NS ?? '',
    logLevel: env.LOG_LEVEL ?? 'info',
    host: {
      id: env.WRENN_HOST_ID ?? defaultHostId(),
      runtime,
      firecracker: {
        binary: env.WRENN_FC_BINARY || undefined,
        kernel: env.WRENN_FC_KERNEL || undefined,
        stableDir: env.WRENN_FC_STABLE_DIR ?? '/run/wrenn/fc-vm',
        cowSizeMb: int(env, 'WRENN_FC_COW_SIZE_MB', 8192),
      },
      stateDir,
      imageDir: env.WRENN_IMAGE_DIR ?? join(stateDir, 'images'),
      // vCPUs are quotas, not pinned cores: a host offers 16 per core by default (overcommit).
      vcpus: int(env, 'WRENN_HOST_VCPUS', require('node:os').cpus().length * 16),
      memoryMb: int(env, 'WRENN_HOST_MEMORY_MB', memTotalMb),
      maxSandboxes: int(env, 'WRENN_HOST_MAX_SANDBOXES', 64),
      heartbeatMs: int(env, 'WRENN_HEARTBEAT_MS', 2000),
      leaseMs: int(env, 'WRENN_HOST_LEASE_MS', 6000),
      dataPlaneHost: env.WRENN_DATA_PLANE_HOST ?? '127.0.0.1',
      dataPlanePort: int(env, 'WRENN_DATA_PLANE_PORT', 0),
      advertiseHost: env.WRENN_ADVERTISE_HOST ?? '127.0.0.1',
      envdProxyHost: env.WRENN_ENVD_PROXY_HOST ?? env.WRENN_DATA_PLANE_HOST ?? '127.0.0.1',
      envdProxyPort: int(env, 'WRENN_ENVD_PROXY_PORT', 0),
      controlPlaneWaitMs: int(env, 'WRENN_CONTROL_PLANE_WAIT_MS', 300_000),
    },
    dataPlaneAuth: {
      signingKey: env.WRENN_DATA_PLANE_SIGNING_KEY || undefined,
      verifyKey: env.WRENN_DATA_PLANE_VERIFY_KEY || undefined,
      tokenTtlSec: Math.max(1, int(env, 'WRENN_DATA_PLANE_TOKEN_TTL_SEC', 60)),
      clockSkewSec: int(env, 'WRENN_DATA_PLANE_CLOCK_SKEW_SEC', 30),
    },
    secret: env.WRENN_SECRET ?? '',
    readYourWritesTimeoutMs: int(env, 'WRENN_RYW_TIMEOUT_MS', 5000),
    hostCreateTimeoutMs: int(env, 'WRENN_HOST_CREATE_TIMEOUT_MS', 60000),
    hostCommandTimeoutMs: int(env, 'WRENN_HOST_COMMAND_TIMEOUT_MS', 30000),
    auth: {
      jwtSecret: jwtSecretFrom(env),
      jwtTtlSec: int(env, 'WRENN_JWT_TTL_SEC', 3600),
      loginWindowSec: int(env, 'WRENN_LOGIN_WINDOW_SEC', 300),
      loginMaxPerEmail: int(env, 'WRENN_LOGIN_MAX_PER_EMAIL', 10),
      loginMaxPerAddress: int(env, 'WRENN_LOGIN_MAX_PER_ADDRESS', 100),
    },
    prices: {
      // $0.05 per vcpu-hour, $0.005 per GiB-hour of memory, $0.00015 per GiB-hour of snapshots (~$0.11 a GiB-month).
      vcpuHourMicroUsd: int(env, 'WRENN_PRICE_VCPU_HOUR_MICROUSD', 50_000),
      memoryGibHourMicroUsd: int(env, 'WRENN_PRICE_MEMORY_GIB_HOUR_MICROUSD', 5_000),
      storageGibHourMicroUsd: int(env, 'WRENN_PRICE_STORAGE_GIB_HOUR_MICROUSD', 150),
    },
    sseHeartbeatMs: Math.max(100, int(env, 'WRENN_SSE_HEARTBEAT_MS', 15_000)),
    quotas: {
      defaults: {
        runningSandboxes: int(env, 'WRENN_QUOTA_RUNNING_SANDBOXES', 20),
        vcpus: int(env, 'WRENN_QUOTA_VCPUS', 64),
        memoryMb: int(env, 'WRENN_QUOTA_MEMORY_MB', 65_536),
        pausedSandboxes: int(env, 'WRENN_QUOTA_PAUSED_SANDBOXES', 100),
        snapshotBytes: int(env, 'WRENN_QUOTA_SNAPSHOT_BYTES', 100 * 1024 ** 3),
        createsPerMinute: int(env, 'WRENN_QUOTA_CREATES_PER_MINUTE', 60),
      },
      overrides: parseOverrides(env.WRENN_QUOTA_OVERRIDES),
    },
    edge: {
      trustProxy: env.WRENN_TRUST_PROXY ?? '',
      signupWindowSec: int(env, 'WRENN_SIGNUP_WINDOW_SEC', 3600),
      signupMaxPerAddress: int(env, 'WRENN_SIGNUP_MAX_PER_ADDRESS', 20),
      signupMaxPerEmail: int(env, 'WRENN_SIGNUP_MAX_PER_EMAIL', 5),
      requestsPerMinutePerKey: int(env, 'WRENN_RATE_PER_KEY_PER_MIN', 1200),
      requestsPerMinutePerAddress: int(env, 'WRENN_RATE_PER_ADDRESS_PER_MIN', 1200),
      maxStreamsPerKey: int(env, 'WRENN_MAX_STREAMS_PER_KEY', 16),
      execControlPerSec: int(env, 'WRENN_EXEC_CONTROL_PER_SEC', 100),
      execControlQueueMax: int(env, 'WRENN_EXEC_CONTROL_QUEUE_MAX', 64),
      listDirPageMax: int(env, 'WRENN_LIST_DIR_PAGE_MAX', 1000),
      sseMaxReplay: int(env, 'WRENN_SSE_MAX_REPLAY', 10_000),
      envdErrorBodyMax: int(env, 'WRENN_ENVD_ERROR_BODY_MAX', 64 * 1024),
    },
    observability: {
      metricsHost: env.WRENN_METRICS_HOST ?? '127.0.0.1',
      metricsPort: int(env, 'WRENN_METRICS_PORT', 9464),
      metricsEnabled: env.WRENN_METRICS !== 'off' && env.WRENN_METRICS !== '0',
      otlpTracesEndpoint: env.WRENN_OTLP_TRACES_ENDPOINT || (env.WRENN_OTLP_ENDPOINT ? `${env.WRENN_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined),
      otlpHeaders: parseHeaderPairs(env.WRENN_OTLP_HEADERS),
      traceSampleRatio: ratio(env, 'WRENN_TRACE_SAMPLE_RATIO', 1),
      traceServiceName: env.WRENN_TRACE_SERVICE_NAME || 'wrenn',
    },
  };
}

import type { QuotaFigures } from '@wrenn/contracts';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { readEnvironment, serviceDatabaseUrls } from './variables';

export {
  childEnvironment,
  ConfigError,
  Environment,
  JWT_SECRET_MIN_BYTES,
  readEnvironment,
  serviceDatabaseUrls,
  SERVICE_DATABASE_URL_PREFIX,
  variable,
  VariableName,
  VARIABLES,
  VariableSpec,
  VariableValue,
} from './variables';
export { CONFIG_TABLE_END, CONFIG_TABLE_START, renderConfigTable, withConfigTable } from './config-table';

/**
 * All configuration comes from the environment, read once per process and validated as a whole
 * (every variable, its schema and its default are in variables.ts). Defaults are what a fresh
 * clone on one host needs: loopback NATS and PostgreSQL, port 8080, state under /var/lib/wrenn.
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
  /** The address the gateway's REST API listens on. */
  bindHost: string;
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
    /** Admission (see @wrenn/contracts admit): kept free of real use, the overcommit of requested memory, a new sandbox's real use. */
    memoryReserveMb: number;
    memoryOvercommit: number;
    sandboxStartMb: number;
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
    /** Network slots: the range they are carved from (unset = the network manager's own) and how many are kept ready. */
    netCidr?: string;
    netPoolSize: number;
    /** The operator's egress allowlist: CIDRs or domain names every sandbox may reach, even in private ranges. */
    egressAllow: string[];
    /** Started base sandboxes kept ready whatever the demand (namespace runtime). */
    warmPoolSize: number;
    /** The warm pool's bounds and refill pace (namespace runtime). */
    warmPool: { perTemplateMax: number; max: number; demandPerMin: number; startingMax: number; startIntervalMs: number };
    sandboxPidsMax: number;
    sandboxDiskMb: number;
    /** Blank sandbox disks made ahead (namespace runtime). */
    diskPoolSize: number;
    /** First user/group id of sandboxes' id ranges; unset = the runtime's own. */
    sandboxIdBase?: number;
  };
  reaper: ReaperConfig;
  /** Least time between two activity writes of one sandbox (the gateway's TTL bookkeeping). */
  activityThrottleMs: number;
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

function parseHeaderPairs(raw: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const part of raw.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    pairs[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return pairs;
}

/** The reaper's pace and patience (WRENN_REAPER_*). */
export interface ReaperConfig {
  intervalMs: number;
  /** How long a host-list difference must last before the reconciler acts on it. */
  settleMs: number;
  /** After the reaper starts, how long hosts get to beat before their sandboxes can be lost. */
  startupGraceMs: number;
  pendingGraceMs: number;
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
  /** How often each gateway adds its counted calls to the shared windows (ms). */
  rateFlushMs: number;
  /** How long a gateway trusts a verified API key before asking again (ms; 0 = every call asks). */
  apiKeyCacheTtlMs: number;
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

function defaultHostId(): string {
  return hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 63) || 'host';
}

/** A service's view of the config: its own database role's URL when one is configured. */
export function forService(config: WrennConfig, service: string): WrennConfig {
  const own = config.serviceDatabaseUrls[service];
  return own ? { ...config, databaseUrl: own, ownDatabaseRole: true } : config;
}

/** The platform's configuration; throws a ConfigError naming every bad variable and what it expects. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WrennConfig {
  const e = readEnvironment(env);
  return {
    natsUrl: e.NATS_URL,
    natsCredsFile: e.NATS_CREDS,
    natsCredsDir: e.WRENN_NATS_CREDS_DIR,
    natsInsecure: e.WRENN_NATS_INSECURE,
    databaseUrl: e.DATABASE_URL,
    serviceDatabaseUrls: serviceDatabaseUrls(env),
    ownDatabaseRole: false,
    port: e.PORT,
    bindHost: e.WRENN_BIND,
    namespace: e.WRENN_NS,
    logLevel: e.LOG_LEVEL,
    host: {
      id: e.WRENN_HOST_ID ?? defaultHostId(),
      runtime: e.WRENN_RUNTIME,
      firecracker: {
        binary: e.WRENN_FC_BINARY,
        kernel: e.WRENN_FC_KERNEL,
        stableDir: e.WRENN_FC_STABLE_DIR,
        cowSizeMb: e.WRENN_FC_COW_SIZE_MB,
      },
      stateDir: e.WRENN_STATE_DIR,
      imageDir: e.WRENN_IMAGE_DIR ?? join(e.WRENN_STATE_DIR, 'images'),
      // vCPUs are weights, not pinned cores: reported (16 per core by default), never counted out.
      vcpus: e.WRENN_HOST_VCPUS ?? cpus().length * 16,
      memoryMb: e.WRENN_HOST_MEMORY_MB ?? Math.floor(totalmem() / 1024 / 1024),
      maxSandboxes: e.WRENN_HOST_MAX_SANDBOXES,
      memoryReserveMb: e.WRENN_HOST_MEMORY_RESERVE_MB,
      memoryOvercommit: e.WRENN_HOST_MEMORY_OVERCOMMIT,
      sandboxStartMb: e.WRENN_HOST_SANDBOX_START_MB,
      heartbeatMs: e.WRENN_HEARTBEAT_MS,
      leaseMs: e.WRENN_HOST_LEASE_MS,
      dataPlaneHost: e.WRENN_DATA_PLANE_HOST,
      dataPlanePort: e.WRENN_DATA_PLANE_PORT,
      advertiseHost: e.WRENN_ADVERTISE_HOST,
      envdProxyHost: e.WRENN_ENVD_PROXY_HOST ?? e.WRENN_DATA_PLANE_HOST,
      envdProxyPort: e.WRENN_ENVD_PROXY_PORT,
      controlPlaneWaitMs: e.WRENN_CONTROL_PLANE_WAIT_MS,
      netCidr: e.WRENN_NET_CIDR,
      netPoolSize: e.WRENN_NET_POOL_SIZE,
      egressAllow: e.WRENN_EGRESS_ALLOW,
      warmPoolSize: e.WRENN_WARM_POOL_SIZE,
      warmPool: {
        perTemplateMax: e.WRENN_WARM_POOL_PER_TEMPLATE_MAX,
        max: e.WRENN_WARM_POOL_MAX,
        demandPerMin: e.WRENN_WARM_POOL_DEMAND_PER_MIN,
        startingMax: e.WRENN_WARM_POOL_STARTING_MAX,
        startIntervalMs: e.WRENN_WARM_POOL_START_INTERVAL_MS,
      },
      sandboxPidsMax: e.WRENN_SANDBOX_PIDS_MAX,
      sandboxDiskMb: e.WRENN_SANDBOX_DISK_MB,
      diskPoolSize: e.WRENN_DISK_POOL_SIZE,
      sandboxIdBase: e.WRENN_SANDBOX_ID_BASE,
    },
    dataPlaneAuth: {
      signingKey: e.WRENN_DATA_PLANE_SIGNING_KEY,
      verifyKey: e.WRENN_DATA_PLANE_VERIFY_KEY,
      tokenTtlSec: Math.max(1, e.WRENN_DATA_PLANE_TOKEN_TTL_SEC),
      clockSkewSec: e.WRENN_DATA_PLANE_CLOCK_SKEW_SEC,
    },
    secret: e.WRENN_SECRET,
    readYourWritesTimeoutMs: e.WRENN_RYW_TIMEOUT_MS,
    hostCreateTimeoutMs: e.WRENN_HOST_CREATE_TIMEOUT_MS,
    hostCommandTimeoutMs: e.WRENN_HOST_COMMAND_TIMEOUT_MS,
    auth: {
      jwtSecret: e.WRENN_JWT_SECRET,
      jwtTtlSec: e.WRENN_JWT_TTL_SEC,
      loginWindowSec: e.WRENN_LOGIN_WINDOW_SEC,
      loginMaxPerEmail: e.WRENN_LOGIN_MAX_PER_EMAIL,
      loginMaxPerAddress: e.WRENN_LOGIN_MAX_PER_ADDRESS,
    },
    prices: {
      // $0.05 per vcpu-hour, $0.005 per GiB-hour of memory, $0.00015 per GiB-hour of snapshots (~$0.11 a GiB-month).
      vcpuHourMicroUsd: e.WRENN_PRICE_VCPU_HOUR_MICROUSD,
      memoryGibHourMicroUsd: e.WRENN_PRICE_MEMORY_GIB_HOUR_MICROUSD,
      storageGibHourMicroUsd: e.WRENN_PRICE_STORAGE_GIB_HOUR_MICROUSD,
    },
    sseHeartbeatMs: Math.max(100, e.WRENN_SSE_HEARTBEAT_MS),
    quotas: {
      defaults: {
        runningSandboxes: e.WRENN_QUOTA_RUNNING_SANDBOXES,
        vcpus: e.WRENN_QUOTA_VCPUS,
        memoryMb: e.WRENN_QUOTA_MEMORY_MB,
        pausedSandboxes: e.WRENN_QUOTA_PAUSED_SANDBOXES,
        snapshotBytes: e.WRENN_QUOTA_SNAPSHOT_BYTES,
        createsPerMinute: e.WRENN_QUOTA_CREATES_PER_MINUTE,
      },
      overrides: e.WRENN_QUOTA_OVERRIDES,
    },
    reaper: {
      intervalMs: e.WRENN_REAPER_INTERVAL_MS,
      settleMs: e.WRENN_REAPER_SETTLE_MS,
      startupGraceMs: e.WRENN_REAPER_STARTUP_GRACE_MS,
      pendingGraceMs: e.WRENN_REAPER_PENDING_GRACE_MS,
    },
    activityThrottleMs: e.WRENN_ACTIVITY_THROTTLE_MS,
    edge: {
      trustProxy: e.WRENN_TRUST_PROXY,
      signupWindowSec: e.WRENN_SIGNUP_WINDOW_SEC,
      signupMaxPerAddress: e.WRENN_SIGNUP_MAX_PER_ADDRESS,
      signupMaxPerEmail: e.WRENN_SIGNUP_MAX_PER_EMAIL,
      requestsPerMinutePerKey: e.WRENN_RATE_PER_KEY_PER_MIN,
      requestsPerMinutePerAddress: e.WRENN_RATE_PER_ADDRESS_PER_MIN,
      rateFlushMs: Math.max(10, e.WRENN_RATE_FLUSH_MS),
      apiKeyCacheTtlMs: e.WRENN_API_KEY_CACHE_TTL_MS,
      maxStreamsPerKey: e.WRENN_MAX_STREAMS_PER_KEY,
      execControlPerSec: e.WRENN_EXEC_CONTROL_PER_SEC,
      execControlQueueMax: e.WRENN_EXEC_CONTROL_QUEUE_MAX,
      listDirPageMax: e.WRENN_LIST_DIR_PAGE_MAX,
      sseMaxReplay: e.WRENN_SSE_MAX_REPLAY,
      envdErrorBodyMax: e.WRENN_ENVD_ERROR_BODY_MAX,
    },
    observability: {
      metricsHost: e.WRENN_METRICS_HOST,
      metricsPort: e.WRENN_METRICS_PORT,
      metricsEnabled: e.WRENN_METRICS !== 'off' && e.WRENN_METRICS !== '0',
      otlpTracesEndpoint: e.WRENN_OTLP_TRACES_ENDPOINT || (e.WRENN_OTLP_ENDPOINT ? `${e.WRENN_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined),
      otlpHeaders: parseHeaderPairs(e.WRENN_OTLP_HEADERS),
      traceSampleRatio: e.WRENN_TRACE_SAMPLE_RATIO,
      traceServiceName: e.WRENN_TRACE_SERVICE_NAME,
    },
  };
}

/** Scans of the platform's sources, shared by the tests that hold its rules (who reads the environment, where SQL lives). */
export { matchingLines, platformSources, REPO_ROOT } from './source-scan';

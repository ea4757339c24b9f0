/** Shapes of the API's requests and answers (snake_case, as on the wire). */

export type SandboxState = 'pending' | 'starting' | 'running' | 'pausing' | 'paused' | 'resuming' | 'stopping' | 'stopped' | 'failed' | 'lost';

export interface Sandbox {
  id: string;
  state: SandboxState;
  template: string;
  vcpus: number;
  memory_mb: number;
  timeout_sec: number;
  /** The egress policy the host enforces. */
  network?: NetworkPolicy;
  host_id: string | null;
  failure_reason: string | null;
  snapshot_ref?: string | null;
  snapshot_size_bytes?: number | null;
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface CreateSandbox {
  /** `base` or a snapshot template's name. */
  template?: string;
  vcpus?: number;
  memory_mb?: number;
  /** The sandbox's disk in MiB (a full disk is ENOSPC inside); omitted: the host's default. */
  disk_mb?: number;
  /** Inactivity after which the sandbox is paused; 0 = never. */
  timeout_sec?: number;
  /** Egress rules: IPv4 addresses, IPv4 CIDRs or domain names. deny_out wins over allow_out. */
  network?: { allow_out?: string[]; deny_out?: string[] };
  /** false: nothing outside network.allow_out is reachable (the DNS resolvers stay open). */
  allow_internet_access?: boolean;
}

/**
 * A sandbox's egress policy: deny_out first, then allow_out, then the defaults (the public
 * internet allowed; private, link-local, loopback, other sandboxes and the host refused).
 */
export interface NetworkPolicy {
  allow_out: string[];
  deny_out: string[];
  allow_internet_access: boolean;
}

export interface ListSandboxes {
  state?: SandboxState;
  limit?: number;
}

export interface ExecRequest {
  cmd: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  timeout_sec?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exit_code: number;
  timed_out: boolean;
  truncated: boolean;
  duration_ms: number;
}

export interface Metrics {
  cpu_usage_usec: number;
  memory_bytes: number;
  memory_limit_bytes: number;
  pids: number;
  oom_kills: number;
  disk_bytes: number;
  vcpus?: number;
  memory_mb?: number;
}

export interface FileTarget {
  /** Absolute, or relative to the user's home. */
  path: string;
  /** The account that owns what is written, and whose home relative paths start from. */
  user?: string;
}

export interface Written {
  path: string;
  size: number;
}

export interface DirEntry {
  name: string;
  path: string;
  type: string;
  size: number;
  mode: number;
  modified_at: string;
  symlink_target?: string;
}

/** One page of `GET /v1/sandboxes/{id}/files/list`. */
export interface DirPage {
  entries: DirEntry[];
  /** The `cursor` of the next page; null on the last. */
  next_cursor: string | null;
}

export interface Snapshot {
  id: string;
  name: string;
  state: string;
  sandbox_id: string;
  host_id: string;
  vcpus: number;
  memory_mb: number;
  size_bytes: number | null;
  created_at: string;
  [field: string]: unknown;
}

/** The same for a new email and a taken one (202): `login()` gives the user and team ids. */
export interface SignupResult {
  email: string;
  status: 'accepted';
  message: string;
}

export interface LoginResult {
  token: string;
  token_type: 'Bearer';
  expires_in: number;
  user_id: string;
  team_id: string;
}

export interface Me {
  user_id: string;
  email: string;
  created_at: string;
  team_id: string;
  teams: Array<{ team_id: string; name: string; role: string }>;
}

export type ApiKeyScope = 'full' | 'sandbox' | 'read_only';

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  team_id: string;
  created_by: string;
  created_at: string;
  scope: ApiKeyScope;
  expires_at: string | null;
}

export interface CreatedApiKey extends ApiKey {
  /** Shown once. */
  key: string;
}

export interface AuditQuery {
  resource_type?: string;
  resource_id?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export interface AuditEntry {
  seq: number;
  event_id: string;
  type: string;
  version: number;
  resource: { type: string; id: string };
  actor: { kind: string; id: string };
  team_id: string;
  correlation_id: string;
  causation_id: string;
  occurred_at: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_cursor: string | null;
}

export interface Usage {
  team_id: string;
  from: string;
  to: string;
  usage: Record<'vcpu_ms' | 'memory_mib_ms' | 'storage_byte_ms' | 'vcpu_hours' | 'memory_gib_hours' | 'storage_gib_hours', string>;
  prices: { currency: 'USD'; vcpu_hour_micro_usd: number; memory_gib_hour_micro_usd: number; storage_gib_hour_micro_usd: number };
  cost: { currency: 'USD'; compute_cents: number; memory_cents: number; storage_cents: number; total_cents: number };
}

/** Quota figures: as limits, or as what the team uses now. */
export interface QuotaFigures {
  running_sandboxes: number;
  vcpus: number;
  memory_mb: number;
  paused_sandboxes: number;
  snapshot_bytes: number;
  creates_per_minute: number;
}

export interface Quotas {
  limits: QuotaFigures;
  usage: QuotaFigures;
}

/** One Server-Sent Event of `GET /v1/events`: `seq` is the stream sequence (resume after it). */
export interface LiveEvent {
  seq: number;
  id: string;
  type: string;
  version: number;
  resource: { type: string; id: string };
  actor: { kind: string; id: string };
  team_id: string;
  correlation_id: string;
  causation_id: string;
  occurred_at: string;
  data: unknown;
}

export interface Health {
  status: 'ok' | 'degraded';
  nats?: Record<string, unknown>;
  postgres?: Record<string, unknown>;
  hosts?: { live?: number; [field: string]: unknown };
}

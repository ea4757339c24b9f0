import { TEMPLATE_NAME_RE } from '@wrenn/contracts';
import { IntFromString, Omittable } from '../errors/validation';
import { IsBoolean, IsArray, IsInt, IsString, Matches, Max, MaxLength, Min, ArrayMaxSize, MinLength, ValidateBy } from 'class-validator';

/** Environment variable names a shell can set and read back; no "=" or NUL to smuggle. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** `env` of an exec: at most 1024 variables, names as ENV_NAME_RE, values strings of up to 32 KiB. */
export function isEnvMap(value: unknown): value is Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length <= 1024 && entries.every(([k, v]) => ENV_NAME_RE.test(k) && typeof v === 'string' && v.length <= 32_768 && !v.includes('\0'));
}

/** `network` of a create: an object of allow_out and deny_out only (their entries are checked by the service). */
export function isNetworkInput(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).every((k) => k === 'allow_out' || k === 'deny_out');
}

/** Account names as useradd accepts them. */
export const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

export class CreateSandboxDto {
  @Omittable()
  @IsString()
  @Matches(TEMPLATE_NAME_RE, { message: 'template must be 1-63 lower-case ASCII letters, digits, "_" or "-"' })
  template: string = 'base';

  /** Omitted: 1 for built-in images, the template's for a snapshot template (which locks it). */
  @Omittable() @IntFromString() @IsInt() @Min(1) @Max(16)
  vcpus?: number;

  /** Omitted: 512 for built-in images, the template's for a snapshot template (which locks it). */
  @Omittable() @IntFromString() @IsInt() @Min(64) @Max(65536)
  memory_mb?: number;

  /** The sandbox's disk in MiB (kernel-enforced: a full disk is ENOSPC inside). Omitted: the host's default (4096). */
  @Omittable() @IntFromString() @IsInt() @Min(256) @Max(262144)
  disk_mb?: number;

  /** Inactivity after which the sandbox is paused; 0 = never. */
  @Omittable() @IntFromString() @IsInt() @Min(0) @Max(7 * 24 * 3600)
  timeout_sec: number = 0;

  /** Egress rules (see NetworkPolicyDto); checked entry by entry by the service. */
  @Omittable() @ValidateBy({ name: 'isNetworkInput', validator: { validate: isNetworkInput, defaultMessage: () => 'network must be an object with only allow_out and deny_out' } })
  network?: { allow_out?: unknown; deny_out?: unknown };

  /** false: nothing outside network.allow_out (and the DNS resolvers) is reachable. */
  @Omittable() @IsBoolean()
  allow_internet_access?: boolean;
}

/**
 * PUT /v1/sandboxes/{id}/network: the whole egress policy, replacing the one before (an omitted
 * list is empty, an omitted allow_internet_access is true). Entries: IPv4 addresses, IPv4 CIDRs
 * or domain names (resolved by the host each time the policy is applied).
 */
export class NetworkPolicyDto {
  @Omittable() @IsArray()
  allow_out?: unknown[];

  @Omittable() @IsArray()
  deny_out?: unknown[];

  @Omittable() @IsBoolean()
  allow_internet_access?: boolean;
}

export interface NetworkPolicyView {
  allow_out: string[];
  deny_out: string[];
  allow_internet_access: boolean;
}

export class SetTimeoutDto {
  /** Inactivity after which the sandbox is paused, from now on; 0 = never. */
  @IntFromString() @IsInt() @Min(0) @Max(7 * 24 * 3600)
  timeout_sec!: number;
}

export class ExecDto {
  @IsString() @MinLength(1) @MaxLength(4096)
  cmd!: string;

  @Omittable() @IsArray() @ArrayMaxSize(1024) @IsString({ each: true }) @MaxLength(65536, { each: true })
  args: string[] = [];

  @Omittable() @ValidateBy({ name: 'isEnvMap', validator: { validate: isEnvMap, defaultMessage: () => 'env must map variable names ([A-Za-z_][A-Za-z0-9_]*) to strings' } })
  env?: Record<string, string>;

  @Omittable() @IsString() @MinLength(1) @MaxLength(4096)
  cwd?: string;

  @Omittable() @IsString() @Matches(USER_RE, { message: 'user must be a valid account name' })
  user?: string;

  @Omittable() @IntFromString() @IsInt() @Min(1) @Max(3600)
  timeout_sec: number = 60;
}


export class FileQuery {
  @IsString() @MinLength(1) @MaxLength(4096)
  path!: string;

  @Omittable() @IsString() @Matches(USER_RE, { message: 'user must be a valid account name' })
  user?: string;
}

export class ListQuery extends FileQuery {
  @Omittable() @IntFromString() @IsInt() @Min(1) @Max(16)
  depth: number = 1;

  /** Entries per page; above WRENN_LIST_DIR_PAGE_MAX (or absent) it is that maximum. */
  @Omittable() @IntFromString() @IsInt() @Min(1)
  limit?: number;

  /** The `next_cursor` of the page before. */
  @Omittable() @IsString() @MinLength(1) @MaxLength(8192)
  cursor?: string;
}

export interface DirEntryView {
  name: string;
  path: string;
  type: string;
  size: number;
  mode: number;
  modified_at: string;
  symlink_target?: string;
}

export interface SandboxView {
  id: string;
  state: string;
  template: string;
  /** Set for sandboxes started from a snapshot template. */
  template_id: string | null;
  vcpus: number;
  memory_mb: number;
  timeout_sec: number;
  /** The egress policy the host enforces. */
  network: NetworkPolicyView;
  host_id: string | null;
  failure_reason: string | null;
  /** While paused: the snapshot on its host and the disk it occupies. */
  snapshot_ref: string | null;
  snapshot_size_bytes: number | null;
  created_at: string;
  updated_at: string;
}

export interface ExecView {
  stdout: string;
  stderr: string;
  exit_code: number;
  timed_out: boolean;
  truncated: boolean;
  duration_ms: number;
}

export interface MetricsView {
  cpu_usage_usec: number;
  memory_bytes: number;
  memory_limit_bytes: number;
  pids: number;
  oom_kills: number;
  /** Real disk use of the sandbox's own files (allocated blocks × 512). */
  disk_bytes: number;
  vcpus: number;
  memory_mb: number;
}

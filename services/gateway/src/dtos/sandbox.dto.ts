import { TEMPLATE_NAME_RE } from '@wrenn/contracts';
import { IntFromString, Omittable } from '../errors/validation';
import type { OpenApiComponents as components } from '@wrenn/sdk';
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

  /** Omitted: 1 for built-in images, the template's for a frozen template (which locks it). */
  @Omittable() @IntFromString() @IsInt() @Min(1) @Max(16)
  vcpus?: number;

  /** Omitted: 512 for built-in images, the template's for a frozen template (which locks it). */
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

export type NetworkPolicyView = components['schemas']['Sandbox']['network'];

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

// Answers: names for the types generated from the OpenAPI document, so the gateway cannot build
// one the document does not describe (tsc refuses it).
export type DirEntryView = components['schemas']['DirEntry'];
export type SandboxView = components['schemas']['Sandbox'];
export type ExecView = components['schemas']['ExecResult'];
export type MetricsView = components['schemas']['Metrics'];

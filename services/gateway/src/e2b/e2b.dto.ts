import { Allow, IsArray, IsBoolean, IsIn, IsInt, IsISO8601, IsObject, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import { IntFromString, Omittable } from '../errors/validation';

/**
 * Request and response bodies of E2B's sandbox API, with E2B's field names (camelCase, `sandboxID`,
 * `templateID`…). Fields the SDK sends that Wrenn has no use for are declared with @Allow so a
 * drop-in client is not refused for sending them; the ones that would change behaviour Wrenn does
 * not offer are refused by the mapper with a clear message. As on Wrenn's own API, an optional
 * field may be left out but not sent as null, and integers convert only from digit strings
 * (`Number()` would turn "", [] or true into valid timeouts). Where E2B's document gives a field a
 * type, the DTO checks it, so that openapi.yaml's `/e2b` part is what the gateway enforces (the
 * drift test, src/docs/wire-contract.spec.ts).
 */

/** E2B's longest sandbox life is 24 h; Wrenn accepts up to a week of inactivity. */
const MAX_TIMEOUT_SEC = 7 * 24 * 3600;

export class E2bNewSandboxDto {
  @IsString() @MinLength(1) @MaxLength(128)
  templateID!: string;

  /** Seconds; the SDK sends it when the user gave timeoutMs. */
  @Omittable() @IntFromString() @IsInt() @Min(0) @Max(MAX_TIMEOUT_SEC)
  timeout?: number;

  @Omittable() @IsObject()
  metadata?: Record<string, string>;

  @Omittable() @IsObject()
  envVars?: Record<string, string>;

  @Omittable() @IsBoolean()
  autoPause?: boolean;

  @Omittable() @IsBoolean()
  autoPauseMemory?: boolean;

  @Omittable() @IsBoolean()
  secure?: boolean;

  @Omittable() @IsBoolean()
  allow_internet_access?: boolean;

  /** allowOut and denyOut become the egress policy; the mapper refuses rules and egressProxy. */
  @Omittable() @IsObject()
  network?: Record<string, unknown>;

  @Allow() autoResume?: unknown;
  @Allow() mcp?: unknown;
  @Allow() iam?: unknown;
  @Allow() volumeMounts?: unknown;
}

/** E2B's SandboxNetworkUpdateConfig: the whole egress configuration, omitted fields cleared. */
export class E2bNetworkUpdateDto {
  @Omittable() @IsBoolean()
  allow_internet_access?: boolean;

  /** Entries are checked by networkPolicyFrom, which names the bad one. */
  @Omittable() @IsArray()
  allowOut?: unknown[];

  @Omittable() @IsArray()
  denyOut?: unknown[];

  /** The SDK sends `{}` when the caller gave no transform rules; the mapper refuses any other. */
  @Omittable() @IsObject()
  rules?: Record<string, unknown>;

  /** Refused by the mapper whatever it holds. */
  @Allow() egressProxy?: unknown;
}

export class E2bTimeoutDto {
  @IntFromString() @IsInt() @Min(0) @Max(MAX_TIMEOUT_SEC)
  timeout!: number;
}

export class E2bConnectDto {
  @Omittable() @IntFromString() @IsInt() @Min(0) @Max(MAX_TIMEOUT_SEC)
  timeout?: number;

  /** false = resume by rebooting from the filesystem snapshot. */
  @Omittable() @IsBoolean()
  memory?: boolean;

  /** Older SDKs' resume body. */
  @Omittable() @IsBoolean()
  autoPause?: boolean;
}

export class E2bPauseDto {
  /** false = keep the filesystem only. */
  @Omittable() @IsBoolean()
  memory?: boolean;
}

/** GET /sandboxes, E2B's v1 list: running sandboxes only, so it takes no state. */
export class E2bRunningListQuery {
  @Omittable() @IntFromString() @IsInt() @Min(1) @Max(1000)
  limit?: number;

  @Omittable() @IsString() @MaxLength(256)
  nextToken?: string;

  /** A URL-encoded `key=value&…` string (the SDK's encoding); refused by the mapper unless empty. */
  @Omittable() @IsString() @MaxLength(1024)
  metadata?: string;

  /** RFC 3339; the SDK sends Date.toISOString(). */
  @Omittable() @IsISO8601()
  startedAfter?: string;

  /** An E2B template id, mapped as templateID is. */
  @Omittable() @IsString() @MaxLength(128)
  template?: string;

  /** By start time; newest first when left out. */
  @Omittable() @IsIn(['asc', 'desc'])
  order?: string;
}

/** GET /v2/sandboxes. */
export class E2bListQuery extends E2bRunningListQuery {
  /** Comma-separated E2B states: running, paused (the SDK's array, serialised form-style). */
  @Omittable() @IsString() @MaxLength(64)
  state?: string;
}

/** Unix seconds; accepted and not used (the answer is one current sample). */
export class E2bMetricsQuery {
  @Omittable() @IntFromString() @IsInt()
  start?: number;

  @Omittable() @IntFromString() @IsInt()
  end?: number;
}

/** POST /sandboxes and /v2/sandboxes, and connect. */
export interface E2bSandbox {
  templateID: string;
  sandboxID: string;
  alias?: string;
  clientID: string;
  envdVersion: string;
  envdAccessToken: string;
  trafficAccessToken: string | null;
  domain: string | null;
}

export type E2bState = 'running' | 'paused';

/** GET /v2/sandboxes items. */
export interface E2bListedSandbox {
  templateID: string;
  alias?: string;
  sandboxID: string;
  clientID: string;
  startedAt: string;
  endAt: string;
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  metadata: Record<string, string>;
  state: E2bState;
  envdVersion: string;
  volumeMounts: never[];
}

/** GET /sandboxes/{id}. */
export interface E2bSandboxDetail extends E2bListedSandbox {
  envdAccessToken: string;
  domain: string | null;
  allowInternetAccess: boolean | null;
  lifecycle: { autoResume: boolean; onTimeout: 'kill' | 'pause' };
}

export interface E2bSandboxMetric {
  timestamp: string;
  timestampUnix: number;
  cpuCount: number;
  cpuUsedPct: number;
  memUsed: number;
  memTotal: number;
  memCache: number;
  diskUsed: number;
  diskTotal: number;
}

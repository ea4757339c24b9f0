import { Allow, IsBoolean, IsInt, IsObject, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import { IntFromString, Omittable } from '../errors/validation';

/**
 * Request and response bodies of E2B's sandbox API, with E2B's field names (camelCase, `sandboxID`,
 * `templateID`…). Fields the SDK sends that Wrenn has no use for are declared with @Allow so a
 * drop-in client is not refused for sending them; the ones that would change behaviour Wrenn does
 * not offer are refused by the mapper with a clear message. As on Wrenn's own API, an optional
 * field may be left out but not sent as null, and integers convert only from digit strings
 * (`Number()` would turn "", [] or true into valid timeouts).
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

  @Allow() autoResume?: unknown;
  @Allow() network?: unknown;
  @Allow() mcp?: unknown;
  @Allow() iam?: unknown;
  @Allow() volumeMounts?: unknown;
}

/** E2B's SandboxNetworkUpdateConfig: the whole egress configuration, omitted fields cleared. */
export class E2bNetworkUpdateDto {
  @Omittable() @IsBoolean()
  allow_internet_access?: boolean;

  @Allow() allowOut?: unknown;
  @Allow() denyOut?: unknown;
  @Allow() rules?: unknown;
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

export class E2bListQuery {
  /** Comma-separated E2B states: running, paused. */
  @Omittable() @IsString() @MaxLength(64)
  state?: string;

  @Omittable() @IntFromString() @IsInt() @Min(1) @Max(1000)
  limit?: number;

  @Omittable() @IsString() @MaxLength(256)
  nextToken?: string;

  @Allow() metadata?: unknown;
  @Allow() startedAfter?: unknown;
  @Allow() template?: unknown;
  @Allow() order?: unknown;
}

export class E2bMetricsQuery {
  @Allow() start?: unknown;
  @Allow() end?: unknown;
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

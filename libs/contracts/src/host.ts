import type { NetworkPolicy } from './network-policy';
import { ErrorCode, WrennError } from './errors';

/**
 * The host-agent protocol: lifecycle commands on host.<hostId>.<op>, heartbeats in the hosts KV
 * bucket. Commands and files inside sandboxes go through the agent's data plane (Connect RPC).
 */
export const HostOp = {
  Create: 'create',
  Claim: 'claim',
  Destroy: 'destroy',
  List: 'list',
  Metrics: 'metrics',
  Pause: 'pause',
  Resume: 'resume',
  CreateTemplate: 'template-create',
  DeleteTemplate: 'template-delete',
  SetNetwork: 'network-set',
} as const;
export type HostOp = (typeof HostOp)[keyof typeof HostOp];

export const RuntimeKind = {
  Namespace: 'namespace',
  Firecracker: 'firecracker',
} as const;
export type RuntimeKind = (typeof RuntimeKind)[keyof typeof RuntimeKind];

export interface SandboxSpec {
  sandboxId: string;
  teamId: string;
  template: string;
  vcpus: number;
  memoryMb: number;
  /**
   * Set when the sandbox starts from a frozen template (its files on this host are keyed by
   * this id); absent for built-in images, named by `template`.
   */
  templateId?: string;
  /** The sandbox's disk quota in MiB; absent = the host's default. */
  diskMb?: number;
  /** Egress policy the host enforces from the sandbox's first packet on; absent = the defaults. */
  network?: NetworkPolicy;
}

export interface CreateOnHost {
  commandId: string;
  spec: SandboxSpec;
}
export interface CreatedOnHost {
  sandboxId: string;
  /** Milliseconds the host spent creating it (for metrics and the event). */
  elapsedMs: number;
}

/**
 * Claim: a create served from the host's warm pool only. Where create would start the sandbox
 * cold when no warm one is ready, claim answers `claimed: false` having done nothing, so the
 * scheduler can record the whole create as one event and fall back to the cold path otherwise.
 * Idempotent like create: a retried claim of a sandbox the host already runs answers it claimed.
 */
export type ClaimOnHost = CreateOnHost;
export type ClaimedOnHost =
  /** warmLeft: warm sandboxes of the same pool key still ready after this one (the scheduler's view until the next beat). */
  | { claimed: true; sandboxId: string; elapsedMs: number; warmLeft?: number }
  | { claimed: false; reason: string };

/**
 * The warm pool a create draws from: one per frozen template, one per built-in image. The host
 * keys its pool by it and its heartbeat counts ready warm sandboxes under it.
 */
export function warmPoolKey(spec: Pick<SandboxSpec, 'template' | 'templateId'>): string {
  return spec.templateId ? `template:${spec.templateId}` : `image:${spec.template}`;
}

export interface DestroyOnHost {
  commandId: string;
  sandboxId: string;
}

export interface ExecOnHost {
  sandboxId: string;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Sandbox user to run as (default root). */
  user?: string;
  timeoutSec: number;
}
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** True when the command ran past its timeout and was killed. */
  timedOut: boolean;
  /** True when output exceeded the unary limit and was cut. */
  truncated: boolean;
  durationMs: number;
}

export interface SandboxMetricsOnHost {
  cpuUsageUsec: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
  oomKills: number;
  diskBytes: number;
  vcpus: number;
  memoryMb: number;
}

export interface HostSandboxList {
  /** Sandboxes running (or being created) on this host. */
  sandboxIds: string[];
  /** Paused sandboxes whose snapshot this host holds (no processes, no network). */
  pausedIds?: string[];
  /**
   * When this agent created or claimed each sandbox it made (Unix ms, host clock); absent for
   * ones it adopted. One still being made (its egress policy not yet applied, say) is given the
   * time of the list. A warm claim is on the host a moment before its event is on the log, so the
   * reconciler leaves a young sandbox the log does not know yet alone (see reaper findOrphans).
   */
  startedAt?: Record<string, number>;
}

/** Pause: snapshot the sandbox and free every host resource it held. */
export interface PauseOnHost {
  commandId: string;
  sandboxId: string;
}
export interface PausedOnHost {
  sandboxId: string;
  /** Opaque to the control plane; names the snapshot on this host (e.g. `snap_<sandboxId>`). */
  snapshotRef: string;
  /** Bytes the snapshot occupies on disk (allocated blocks), for storage billing. */
  sizeBytes: number;
  elapsedMs: number;
}

/** Resume: bring a paused sandbox back (same id, same files) from its snapshot on this host. */
export interface ResumeOnHost {
  commandId: string;
  spec: SandboxSpec;
  snapshotRef: string;
}
export interface ResumedOnHost {
  sandboxId: string;
  elapsedMs: number;
}

/** Replace a running sandbox's egress policy, live (domain names resolved on the host, now). */
export interface SetNetworkOnHost {
  commandId: string;
  sandboxId: string;
  network: NetworkPolicy;
}

/** Freeze a running sandbox's state into a template; the sandbox keeps running. */
export interface CreateTemplateOnHost {
  commandId: string;
  sandboxId: string;
  templateId: string;
  /** Checked against TEMPLATE_NAME_RE again on the host (defense in depth). */
  templateName: string;
}
export interface TemplateCreatedOnHost {
  templateId: string;
  sizeBytes: number;
  elapsedMs: number;
}

export interface DeleteTemplateOnHost {
  commandId: string;
  templateId: string;
  templateName: string;
}

export interface HostCapacity {
  /** vCPUs offered: informational, CPU is shared by weight (cgroup cpu.shares / cpu.weight), not counted out. */
  vcpus: number;
  memoryMb: number;
  maxSandboxes: number;
}

/** A host's memory as admission sees it, in MiB (see admission.ts). */
export interface HostMemory {
  /** The machine's RAM: real use is held within it less the reserve (agents sharing a machine share it). */
  totalMb: number;
  /** Really in use on the machine when the beat was taken (MemTotal − MemAvailable): sandboxes, the platform, everything. */
  usedMb: number;
  /** Never admitted into: headroom for the host itself and for sandboxes growing between two beats. */
  reserveMb: number;
  /** The requested memory (cgroup limits) of all sandboxes may add up to (capacity.memoryMb − reserve) × overcommit. */
  overcommit: number;
  /** Real memory a sandbox admitted since the last beat is counted at, until a beat shows it. */
  perSandboxMb: number;
}

/** What a host agent writes to the hosts bucket under its id, every heartbeat interval. */
export interface HostHeartbeat {
  hostId: string;
  /** Changes every time the agent process starts: an in-flight command on an older boot is dead. */
  bootId: string;
  runtime: RuntimeKind;
  capacity: HostCapacity;
  /** What its sandboxes asked for: their count, and the vCPUs and memory of their cgroup limits. */
  used: { sandboxes: number; vcpus: number; memoryMb: number };
  /** What the machine really uses, and the rules admission applies to it; absent on older agents. */
  memory?: HostMemory;
  /** Unix ms of this beat; a host is live while now - at < leaseMs. */
  at: number;
  leaseMs: number;
  version: string;
  /** Where the gateway reaches this agent's data plane (Connect RPC over HTTP/2). */
  dataPlaneUrl: string;
  /** Where the gateway forwards raw HTTP for a sandbox's envd (E2B SDK traffic); absent on older agents. */
  envdProxyUrl?: string;
  /**
   * Warm sandboxes ready to be claimed, by pool key (warmPoolKey); absent on a host without a
   * pool. The scheduler tries a one-event claim only where this (less what it claimed since the
   * beat) says one is ready; the host still refuses when its pool turns out empty.
   */
  warm?: Record<string, number>;
}

export function isLive(beat: HostHeartbeat, now = Date.now()): boolean {
  return now - beat.at < beat.leaseMs;
}

/** The heartbeat when the host is live, or 503 host_unavailable: nothing is sent to a dead host. */
export function requireLive(beat: HostHeartbeat | undefined, hostId: string | null, what = ''): HostHeartbeat {
  if (!beat || !isLive(beat)) {
    throw new WrennError(ErrorCode.HostUnavailable, `host ${hostId}${what ? ` that ${what}` : ''} is not live`, { host_id: hostId });
  }
  return beat;
}

/** Metrics of one sandbox, asked of the host that runs it. */
export interface MetricsOnHost {
  sandboxId: string;
}

/**
 * Each host.<hostId>.<op> subject's request and reply, in one table: the agent serves it, and
 * HostClient (in @wrenn/messaging) sends by it, so a change to either side fails to compile.
 */
export interface HostProtocol {
  [HostOp.Create]: { request: CreateOnHost; reply: CreatedOnHost };
  [HostOp.Claim]: { request: ClaimOnHost; reply: ClaimedOnHost };
  [HostOp.Destroy]: { request: DestroyOnHost; reply: { sandboxId?: string } };
  [HostOp.List]: { request: Record<string, never>; reply: HostSandboxList };
  [HostOp.Metrics]: { request: MetricsOnHost; reply: SandboxMetricsOnHost };
  [HostOp.Pause]: { request: PauseOnHost; reply: PausedOnHost };
  [HostOp.Resume]: { request: ResumeOnHost; reply: ResumedOnHost };
  [HostOp.CreateTemplate]: { request: CreateTemplateOnHost; reply: TemplateCreatedOnHost };
  [HostOp.DeleteTemplate]: { request: DeleteTemplateOnHost; reply: { templateId?: string } };
  [HostOp.SetNetwork]: { request: SetNetworkOnHost; reply: { sandboxId?: string } };
}
export type HostRequest<Op extends HostOp> = HostProtocol[Op]['request'];
export type HostReply<Op extends HostOp> = HostProtocol[Op]['reply'];

/**
 * The code a failed host operation answers with: the host's own when it named one, else
 * host_operation_failed (an agent's unexpected `internal` is its failure, not the platform's).
 */
export function hostFailureCode(error: unknown): ErrorCode {
  return error instanceof WrennError && error.code !== ErrorCode.Internal ? error.code : ErrorCode.HostOperationFailed;
}

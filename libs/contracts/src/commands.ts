import type { NetworkPolicy } from './network-policy';

/**
 * Control-plane request/reply messages (gateway → services). Subjects come from Naming.commandSubject.
 */
export const ServiceName = {
  Gateway: 'gateway',
  Auth: 'auth',
  SandboxScheduler: 'sandbox-scheduler',
  Projector: 'projector',
  SnapshotCatalog: 'snapshot-catalog',
  Reaper: 'reaper',
  HostAgent: 'host-agent',
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

export const SchedulerCommand = {
  Create: 'create',
  Destroy: 'destroy',
  Fail: 'fail',
  Pause: 'pause',
  Resume: 'resume',
  MarkLost: 'mark-lost',
  SetTimeout: 'set-timeout',
  SetNetwork: 'set-network',
  /** A running sandbox's resource use, asked of its host (the scheduler alone talks to hosts). */
  Metrics: 'metrics',
  Quotas: 'quotas',
} as const;
export type SchedulerCommand = (typeof SchedulerCommand)[keyof typeof SchedulerCommand];

export interface Actor {
  kind: 'user' | 'api_key' | 'system' | 'anonymous';
  id: string;
}

export interface CommandMeta {
  /** Idempotency key: retrying a command with the same id does no second work. */
  commandId: string;
  correlationId: string;
  actor: Actor;
  teamId: string;
}

/**
 * The metadata of what one step of a command decides. Its causation id is "<commandId>:<step>",
 * the idempotency key of the append: a retried command (same id) skips the steps already on the
 * log instead of doing them twice.
 */
export function stepMetadata(meta: CommandMeta, step: string): { correlationId: string; causationId: string; actor: Actor; teamId: string } {
  return { correlationId: meta.correlationId, causationId: `${meta.commandId}:${step}`, actor: meta.actor, teamId: meta.teamId };
}

/**
 * The scheduler resolves the template (built-in image or the team's frozen template) and the
 * size: omitted vcpus/memoryMb mean the template's (or the built-in defaults); a snapshot
 * template refuses any other size.
 */
export interface CreateSandboxRequest {
  meta: CommandMeta;
  sandboxId: string;
  template: string;
  vcpus?: number;
  memoryMb?: number;
  /** Disk quota in MiB; absent = the host's default. */
  diskMb?: number;
  timeoutSec: number;
  /** Egress policy; absent = the defaults. */
  network?: NetworkPolicy;
}

export interface SandboxMetricsRequest {
  sandboxId: string;
  /** The host the read model places it on. */
  hostId: string;
}

export interface DestroySandboxRequest {
  meta: CommandMeta;
  sandboxId: string;
}

/** Every command reply carries the stream sequence of its last event, for read-your-writes. */
export interface CommandAccepted {
  sandboxId: string;
  seq: number;
}

export interface FailSandboxRequest {
  meta: CommandMeta;
  sandboxId: string;
  reason: string;
  /**
   * The state the reaper judged the sandbox in: the fail applies only while it still is, so a
   * create that finished or a pause or destroy that began since is left alone.
   */
  whileIn?: 'pending' | 'starting' | 'running';
}

/** Pause a running sandbox: `user` from the API, `ttl` from the reaper's inactivity timer. */
export interface PauseSandboxRequest {
  meta: CommandMeta;
  sandboxId: string;
  reason: 'user' | 'ttl';
  /**
   * The reaper finishing a pause whose scheduler or agent died mid-way: the sandbox is already
   * `pausing`, so the host work is sent again (it is idempotent) without deciding anew.
   */
  redrive?: boolean;
}

export interface ResumeSandboxRequest {
  meta: CommandMeta;
  sandboxId: string;
  /** As for pause: finish a resume left `resuming` by a crash. */
  redrive?: boolean;
}

/** Change the inactivity after which a running sandbox is paused (seconds, 0 = never). */
export interface SetSandboxTimeoutRequest {
  meta: CommandMeta;
  sandboxId: string;
  timeoutSec: number;
}

/** Replace a sandbox's egress policy: live on its host when running, at its resume when paused. */
export interface SetSandboxNetworkRequest {
  meta: CommandMeta;
  sandboxId: string;
  network: NetworkPolicy;
}

/** A team's quota limits and what it uses now. */
export interface QuotasRequest {
  meta: CommandMeta;
}

/**
 * A team's six quota figures: its limits, or what it uses now (then `createsPerMinute` counts
 * the creates accepted in the 60 s before now). The one definition the config, the Team quota
 * aggregate and the API share.
 */
export interface QuotaFigures {
  runningSandboxes: number;
  vcpus: number;
  memoryMb: number;
  pausedSandboxes: number;
  snapshotBytes: number;
  createsPerMinute: number;
}

export interface QuotasResult {
  limits: QuotaFigures;
  usage: QuotaFigures;
}

/** The reaper's verdict on a sandbox whose host stopped beating. */
export interface MarkLostRequest {
  meta: CommandMeta;
  sandboxId: string;
  hostId: string;
  reason: string;
}

export const CatalogCommand = {
  CreateTemplate: 'template-create',
  DeleteTemplate: 'template-delete',
  FailTemplate: 'template-fail',
} as const;
export type CatalogCommand = (typeof CatalogCommand)[keyof typeof CatalogCommand];

/** Freeze a running sandbox into a named template of the caller's team. */
export interface CreateTemplateRequest {
  meta: CommandMeta;
  sandboxId: string;
  name: string;
}

export interface DeleteTemplateRequest {
  meta: CommandMeta;
  name: string;
}

/** The reaper's verdict on a template whose creation was abandoned by a crash. */
export interface FailTemplateRequest {
  meta: CommandMeta;
  templateId: string;
  reason: string;
}

export interface TemplateAccepted {
  templateId: string;
  seq: number;
}

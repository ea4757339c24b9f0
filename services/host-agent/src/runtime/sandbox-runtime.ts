import type { EnvdHost } from '../envd-host/envd-host';
import { RuntimeKind, SandboxMetricsOnHost, SandboxSpec } from '@wrenn/contracts';

/** What a runtime reports about one sandbox it holds. */
export interface RuntimeSandbox {
  sandboxId: string;
  /** Host pid of the sandbox's init (namespace runtime) or VMM process (firecracker). */
  pid: number;
  /** Directory under the agent's state dir that holds everything of this sandbox. */
  dir: string;
}

/** What a runtime measures of a sandbox (the host protocol's shape: it is sent as is). */
export type SandboxMetrics = SandboxMetricsOnHost;

export interface RecoveryReport {
  /** Sandboxes found alive and taken back under management. */
  adopted: string[];
  /** Sandboxes found half-made or dead and removed. */
  removed: string[];
  /** Paused sandboxes whose snapshots were found (and interrupted pauses completed). */
  paused?: string[];
  /** Templates found complete. */
  templates?: string[];
}

/**
 * One interface, two runtimes (namespace, firecracker). The orchestrator (sandbox/) decides
 * ordering and serialises operations per sandbox; a runtime only does the work.
 *
 * Contract:
 * - create() is all-or-nothing: on failure every resource it acquired is released
 *   (cleanup stack) and the error says what failed.
 * - destroy() of something already gone is success; it aggregates every error it meets. It
 *   also removes a paused sandbox's snapshot.
 * - create(spec) with spec.templateId starts from that template's files on this host.
 * - recover() runs once at agent start, before any command is accepted.
 */
/** Where a sandbox is reached: its address, and how its envd answers. */
export interface SandboxEndpoint {
  /** The sandbox's address on its slot, as an envd URL (E2B's port); the egress policy goes by its host. */
  envdUrl: string;
  accessToken?: string;
  /** Set when this host serves the sandbox's envd itself (namespace sandboxes): nothing listens at `envdUrl` then. */
  envdHost?: EnvdHost;
}

export interface SandboxRuntime {
  readonly kind: RuntimeKind;
  /** Makes the runtime ready (base image built or verified). Idempotent; may take long the first time. */
  prepare(): Promise<void>;
  create(spec: SandboxSpec): Promise<RuntimeSandbox>;
  /**
   * A create served from a pool of sandboxes started ahead only: undefined, having done nothing,
   * when none fits. Absent on a runtime without a warm pool (every claim is then refused).
   */
  claimWarm?(spec: SandboxSpec): Promise<RuntimeSandbox | undefined>;
  /** Ready warm sandboxes by pool key (warmPoolKey), for the heartbeat; absent without a pool. */
  warmCounts?(): Record<string, number>;
  /** Set by the agent: called when a warm sandbox becomes ready. */
  onWarmReady?: (() => void) | undefined;
  /**
   * Where the sandbox's envd answers, and the access token it demands on every request (absent
   * only for a sandbox started before envd had one); processes and files go through it.
   */
  endpoint(sandboxId: string): Promise<SandboxEndpoint>;
  destroy(sandboxId: string): Promise<void>;
  list(): Promise<string[]>;
  /** The vcpus/memory a sandbox was created with (from its recorded spec), for capacity reporting. */
  resources(sandboxId: string): Promise<{ vcpus: number; memoryMb: number }>;
  recover(): Promise<RecoveryReport>;
  /**
   * Snapshots a running sandbox and frees every host resource it held (processes, network slot,
   * cgroups, mounts). All-or-nothing: if it fails after the sandbox was stopped-the-world, the
   * sandbox is thawed and stays usable. The snapshot stays on this host until resume or destroy.
   * Pausing an already-paused sandbox answers its snapshot again (a retried command).
   */
  pause(sandboxId: string): Promise<{ snapshotRef: string; sizeBytes: number }>;
  /**
   * Brings a paused sandbox back from its snapshot with the same id and files. On failure the
   * snapshot is left intact, so a retry can succeed.
   */
  resume(spec: SandboxSpec, snapshotRef: string): Promise<RuntimeSandbox>;
  /** Paused sandboxes whose snapshots this runtime holds. */
  listPaused(): Promise<string[]>;
  /**
   * Freezes a running sandbox's state into template `templateId`; the sandbox keeps running.
   * `name` is recorded with it (already checked against the allowlist; never part of a path).
   */
  createTemplate(sandboxId: string, templateId: string, name?: string): Promise<{ sizeBytes: number }>;
  /** Removes a template's files; absent is success. */
  deleteTemplate(templateId: string): Promise<void>;
  metrics(sandboxId: string): Promise<SandboxMetrics>;
  /** Stops the runtime's background work; sandboxes keep running. */
  shutdown(): Promise<void>;
}

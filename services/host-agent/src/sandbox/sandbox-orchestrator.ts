import {
  BUILT_IN_TEMPLATES,
  ClaimedOnHost,
  ClaimOnHost,
  CreatedOnHost,
  CreateOnHost,
  CreateTemplateOnHost,
  DeleteTemplateOnHost,
  DestroyOnHost,
  ErrorCode,
  ExecOnHost,
  ExecResult,
  HostSandboxList,
  isTemplateName,
  requireSandboxId,
  requireTemplateId,
  PausedOnHost,
  PauseOnHost,
  ResumedOnHost,
  ResumeOnHost,
  SandboxSpec,
  TemplateCreatedOnHost,
  WrennError,
  DEFAULT_NETWORK_POLICY,
  isDefaultPolicy,
  NetworkPolicy,
  normaliseNetworkPolicy,
  requireNetworkPolicy,
  SetNetworkOnHost,
  warmPoolKey,
} from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvdClient, envdClientFor } from '../envd-client/envd.client';
import type { EnvdRoute } from '../envd-proxy/envd-proxy.server';
import { RecoveryReport, SandboxMetrics, SandboxRuntime } from '../runtime/sandbox-runtime';
import { snapshotRefFor } from '../runtime/snapshot-ref';
import { ConcurrencyLimit } from './concurrency-limit';
import { KeyedQueue } from './keyed-queue';

const MAX_EXEC_TIMEOUT_SEC = 3600;
/** How long a stopping agent waits for the commands it already took (see shutdown). */
const SHUTDOWN_DRAIN_MS = 60_000;
/** Teardowns running at once on a host (see ConcurrencyLimit: a burst of deletes must not starve the agent). */
const TEARDOWN_CONCURRENCY = 4;

/** Where sandboxes' egress policies are enforced (the network manager of their slots). */
export interface SandboxEgress {
  /** Applies the policy to the slot of the sandbox that answers at this address. */
  applyAt(sandboxIp: string, policy: NetworkPolicy): Promise<void>;
}

export interface OrchestratorOptions {
  egress?: SandboxEgress;
  /** Where the policies of running sandboxes are kept, to be applied again after an agent restart. */
  policyDir?: string;
  /** The most of an envd answer read into memory for an error (WRENN_ENVD_ERROR_BODY_MAX). */
  envdErrorBodyMax?: number;
}

export interface Usage {
  sandboxes: number;
  vcpus: number;
  memoryMb: number;
}

/**
 * The host agent's single authority over sandboxes on this host: validates every command again
 * (defense in depth — a bad id must never reach a path), serialises operations per sandbox, and
 * keeps the resource tally the heartbeat reports.
 */
export class SandboxOrchestrator {
  private readonly queue = new KeyedQueue();
  private readonly teardowns = new ConcurrencyLimit(TEARDOWN_CONCURRENCY);
  private readonly resources = new Map<string, { vcpus: number; memoryMb: number }>();
  /** When this agent created or claimed each sandbox (Unix ms): the reconciler's grace for one the log does not show yet. */
  private readonly startedAt = new Map<string, number>();
  /**
   * Sandboxes being made here right now (create, claim, resume). The runtime lists one as soon as
   * it exists, before its egress policy is applied and its tally entry is set: until the operation
   * ends it is listed as made this instant, so the reconciler never judges a claim still under way
   * (no log event yet) an orphan and destroys it as its create answers.
   */
  private readonly making = new Set<string>();
  private readonly envdClients = new Map<string, EnvdClient>();

  constructor(
    private readonly runtime: SandboxRuntime,
    private readonly log: Logger,
    private readonly options: OrchestratorOptions = {},
  ) {}

  async start(): Promise<RecoveryReport> {
    await this.runtime.prepare();
    const report = await this.runtime.recover();
    for (const id of report.adopted) this.resources.set(id, await this.runtime.resources(id));
    // Recovery rebuilt the slots' rules with the defaults: each adopted sandbox gets its own back.
    for (const id of report.adopted) {
      const policy = await this.storedPolicy(id);
      if (policy) await this.applyNetwork(id, policy).catch((error) => this.log.error({ sandboxId: id, err: error }, 'could not apply the egress policy of an adopted sandbox again'));
    }
    return report;
  }

  private policyFile(sandboxId: string): string | undefined {
    return this.options.policyDir ? join(this.options.policyDir, `${sandboxId}.json`) : undefined;
  }

  private async storedPolicy(sandboxId: string): Promise<NetworkPolicy | undefined> {
    const file = this.policyFile(sandboxId);
    if (!file) return undefined;
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const parsed = normaliseNetworkPolicy(JSON.parse(text));
    return 'policy' in parsed ? parsed.policy : undefined;
  }

  /**
   * Applies a sandbox's egress policy to its slot and keeps it for an agent restart (the
   * defaults need no file). No egress configured (a runtime without slots) is refused rather
   * than silently ignored.
   */
  private async applyNetwork(sandboxId: string, policy: NetworkPolicy): Promise<void> {
    if (!this.options.egress) throw new WrennError(ErrorCode.NotImplemented, 'this host cannot enforce egress policies');
    const { envdUrl } = await this.runtime.endpoint(sandboxId);
    await this.options.egress.applyAt(new URL(envdUrl).hostname, policy);
    const file = this.policyFile(sandboxId);
    if (!file) return;
    if (isDefaultPolicy(policy)) await rm(file, { force: true });
    else {
      await mkdir(this.options.policyDir!, { recursive: true });
      await writeFile(`${file}.tmp`, JSON.stringify(policy));
      await rename(`${file}.tmp`, file);
    }
  }

  /**
   * A sandbox's egress policy at create or resume, before the call answers (so before any code
   * of the user's runs in it): a new slot carries the defaults. A failure undoes the start.
   */
  private async startNetwork(spec: SandboxSpec): Promise<void> {
    const policy = spec.network ?? DEFAULT_NETWORK_POLICY;
    if (isDefaultPolicy(policy)) {
      const file = this.policyFile(spec.sandboxId);
      if (file) await rm(file, { force: true });
      return;
    }
    await this.applyNetwork(spec.sandboxId, policy);
  }

  /** Replaces a running sandbox's egress policy, live. */
  async setNetwork(command: SetNetworkOnHost): Promise<{ sandboxId: string }> {
    requireSandboxId(command.sandboxId);
    const policy = requireNetworkPolicy(command.network);
    return this.queue.run(command.sandboxId, async () => {
      if (!this.resources.has(command.sandboxId)) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${command.sandboxId} is not running on this host`);
      await this.applyNetwork(command.sandboxId, policy);
      this.log.info({ sandboxId: command.sandboxId, network: policy }, 'sandbox egress policy applied');
      return { sandboxId: command.sandboxId };
    });
  }

  /** Template operations queue under this key, apart from any sandbox's. */
  private static templateKey(templateId: string): string {
    return `template:${templateId}`;
  }

  usage(): Usage {
    let vcpus = 0;
    let memoryMb = 0;
    for (const r of this.resources.values()) {
      vcpus += r.vcpus;
      memoryMb += r.memoryMb;
    }
    return { sandboxes: this.resources.size, vcpus, memoryMb };
  }

  async create(command: CreateOnHost): Promise<CreatedOnHost> {
    const spec = command.spec;
    requireSpec(spec);
    return this.queue.run(spec.sandboxId, async () => {
      // A retried create (same sandbox, e.g. after the scheduler restarted) finds it made.
      if (this.resources.has(spec.sandboxId)) return { sandboxId: spec.sandboxId, elapsedMs: 0 };
      const started = performance.now();
      await this.whileMaking(spec.sandboxId, async () => {
        await this.runtime.create(spec);
        await this.started(spec);
      });
      const elapsedMs = Math.round(performance.now() - started);
      this.log.info({ sandboxId: spec.sandboxId, elapsedMs }, 'sandbox created');
      return { sandboxId: spec.sandboxId, elapsedMs };
    });
  }

  /**
   * A create from the warm pool only, or a refusal (`claimed: false`) having done nothing. Queued
   * with the sandbox's own operations like a create, so a destroy sent after it lands after it.
   * Idempotent: a retried claim (or one after a create) of a sandbox this host runs answers it
   * claimed, and never takes a second warm sandbox.
   */
  async claim(command: ClaimOnHost): Promise<ClaimedOnHost> {
    const spec = command.spec;
    requireSpec(spec);
    return this.queue.run(spec.sandboxId, async () => {
      if (this.resources.has(spec.sandboxId)) return { claimed: true, sandboxId: spec.sandboxId, elapsedMs: 0 };
      if (!this.runtime.claimWarm) return { claimed: false, reason: 'this host keeps no warm pool' };
      const started = performance.now();
      const claimWarm = this.runtime.claimWarm.bind(this.runtime);
      const made = await this.whileMaking(spec.sandboxId, async () => {
        const sandbox = await claimWarm(spec);
        if (sandbox) await this.started(spec);
        return sandbox;
      });
      if (!made) return { claimed: false, reason: 'no warm sandbox of this template is ready' };
      const elapsedMs = Math.round(performance.now() - started);
      this.log.info({ sandboxId: spec.sandboxId, elapsedMs }, 'sandbox claimed from the warm pool');
      return { claimed: true, sandboxId: spec.sandboxId, elapsedMs, warmLeft: this.runtime.warmCounts?.()[warmPoolKey(spec)] ?? 0 };
    });
  }

  /** Calls `listener` whenever a warm sandbox becomes ready (nothing on a runtime without a pool). */
  onWarmReady(listener: () => void): void {
    this.runtime.onWarmReady = listener;
  }

  /** Ready warm sandboxes by pool key (none on a runtime without a pool). */
  warmCounts(): Record<string, number> | undefined {
    return this.runtime.warmCounts?.();
  }

  /** `work` making a sandbox here, the host's list meanwhile calling it made this instant (see `making`). */
  private async whileMaking<T>(sandboxId: string, work: () => Promise<T>): Promise<T> {
    this.making.add(sandboxId);
    try {
      return await work();
    } finally {
      this.making.delete(sandboxId);
    }
  }

  /** A sandbox the runtime just made: its egress policy (undone with it on failure), then the tally. */
  private async started(spec: SandboxSpec): Promise<void> {
    try {
      await this.startNetwork(spec);
    } catch (error) {
      await this.runtime.destroy(spec.sandboxId).catch((e) => this.log.error({ sandboxId: spec.sandboxId, err: e }, 'could not remove a sandbox whose egress policy failed'));
      throw error;
    }
    this.resources.set(spec.sandboxId, { vcpus: spec.vcpus, memoryMb: spec.memoryMb });
    this.startedAt.set(spec.sandboxId, Date.now());
  }

  async destroy(command: DestroyOnHost): Promise<{ sandboxId: string }> {
    requireSandboxId(command.sandboxId);
    return this.queue.run(command.sandboxId, async () => {
      const started = performance.now();
      await this.teardowns.run(() => this.runtime.destroy(command.sandboxId));
      const file = this.policyFile(command.sandboxId);
      if (file) await rm(file, { force: true });
      this.resources.delete(command.sandboxId);
      this.startedAt.delete(command.sandboxId);
      this.dropEnvd(command.sandboxId);
      this.log.info({ sandboxId: command.sandboxId, elapsedMs: Math.round(performance.now() - started) }, 'sandbox destroyed');
      return { sandboxId: command.sandboxId };
    });
  }

  /**
   * Snapshots a running sandbox and frees what it held; it then counts for nothing in the tally.
   * A retried pause answers the same snapshot. Whatever happens, the tally follows what the
   * runtime says is running afterwards (a pause that failed after its kill holds nothing).
   */
  async pause(command: PauseOnHost): Promise<PausedOnHost> {
    requireSandboxId(command.sandboxId);
    const id = command.sandboxId;
    return this.queue.run(id, async () => {
      const started = performance.now();
      // The sandbox's connections go with it; a resumed one gets a new client.
      this.dropEnvd(id);
      try {
        const { snapshotRef, sizeBytes } = await this.runtime.pause(id);
        this.resources.delete(id);
        this.startedAt.delete(id);
        const elapsedMs = Math.round(performance.now() - started);
        this.log.info({ sandboxId: id, snapshotRef, sizeBytes, elapsedMs }, 'sandbox paused');
        return { sandboxId: id, snapshotRef, sizeBytes, elapsedMs };
      } catch (error) {
        if (!(await this.runtime.list()).includes(id)) this.resources.delete(id);
        throw error;
      } finally {
        // A data-plane call during the pause may have made a client for the old address.
        this.dropEnvd(id);
      }
    });
  }

  /** Brings a paused sandbox back from its snapshot; a retry of one already running succeeds. */
  async resume(command: ResumeOnHost): Promise<ResumedOnHost> {
    const spec = command.spec;
    requireSpec(spec);
    if (command.snapshotRef !== snapshotRefFor(spec.sandboxId)) throw invalid(`"${String(command.snapshotRef)}" is not the snapshot of ${spec.sandboxId}`);
    return this.queue.run(spec.sandboxId, async () => {
      if (this.resources.has(spec.sandboxId)) return { sandboxId: spec.sandboxId, elapsedMs: 0 };
      const started = performance.now();
      await this.whileMaking(spec.sandboxId, async () => {
        await this.runtime.resume(spec, command.snapshotRef);
        try {
          await this.startNetwork(spec);
        } catch (error) {
          // Back to paused: the snapshot stays for a retry.
          await this.runtime.pause(spec.sandboxId).catch((e) => this.log.error({ sandboxId: spec.sandboxId, err: e }, 'could not pause again a sandbox whose egress policy failed'));
          throw error;
        }
      });
      // The resumed sandbox has a new address: no client of before may be reused.
      this.dropEnvd(spec.sandboxId);
      this.resources.set(spec.sandboxId, { vcpus: spec.vcpus, memoryMb: spec.memoryMb });
      const elapsedMs = Math.round(performance.now() - started);
      this.log.info({ sandboxId: spec.sandboxId, elapsedMs }, 'sandbox resumed');
      return { sandboxId: spec.sandboxId, elapsedMs };
    });
  }

  /**
   * Freezes a running sandbox's files into a template; the sandbox keeps running. Queued with the
   * sandbox's own operations, so a pause or destroy never lands in the middle of the copy.
   */
  async createTemplate(command: CreateTemplateOnHost): Promise<TemplateCreatedOnHost> {
    requireSandboxId(command.sandboxId);
    requireTemplateId(command.templateId);
    requireTemplateName(command.templateName);
    if (BUILT_IN_TEMPLATES.includes(command.templateName)) throw new WrennError(ErrorCode.TemplateExists, `"${command.templateName}" is a built-in template`);
    const id = command.sandboxId;
    return this.queue.run(id, () =>
      this.queue.run(SandboxOrchestrator.templateKey(command.templateId), async () => {
        if (!this.resources.has(id)) {
          const paused = (await this.runtime.listPaused()).includes(id);
          if (paused) throw new WrennError(ErrorCode.InvalidState, `sandbox ${id} is paused; templates are made from running sandboxes`);
          throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${id} is not on this host`);
        }
        const started = performance.now();
        const { sizeBytes } = await this.runtime.createTemplate(id, command.templateId, command.templateName);
        const elapsedMs = Math.round(performance.now() - started);
        this.log.info({ sandboxId: id, templateId: command.templateId, sizeBytes, elapsedMs }, 'template created');
        return { templateId: command.templateId, sizeBytes, elapsedMs };
      }),
    );
  }

  /** Removes a template's files; refused while a sandbox here uses it; absent is success. */
  async deleteTemplate(command: DeleteTemplateOnHost): Promise<{ templateId: string }> {
    requireTemplateId(command.templateId);
    requireTemplateName(command.templateName);
    return this.queue.run(SandboxOrchestrator.templateKey(command.templateId), async () => {
      await this.runtime.deleteTemplate(command.templateId);
      this.log.info({ templateId: command.templateId }, 'template deleted');
      return { templateId: command.templateId };
    });
  }

  async exec(request: ExecOnHost): Promise<ExecResult> {
    requireSandboxId(request.sandboxId);
    if (typeof request.cmd !== 'string' || request.cmd.length === 0) throw invalid('cmd must be a non-empty string');
    if (!Array.isArray(request.args) || request.args.some((a) => typeof a !== 'string')) throw invalid('args must be strings');
    if (!positiveInt(request.timeoutSec) || request.timeoutSec > MAX_EXEC_TIMEOUT_SEC) throw invalid('timeoutSec out of range');
    if (!this.resources.has(request.sandboxId)) {
      throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${request.sandboxId} is not on this host`);
    }
    // Exec is not serialised with lifecycle operations: many may run at once in one sandbox.
    const envd = await this.envd(request.sandboxId);
    return envd.exec({ cmd: request.cmd, args: request.args, env: request.env, cwd: request.cwd, user: request.user ?? 'root' }, request.timeoutSec);
  }

  /** One envd client per sandbox (it keeps connections alive), dropped with the sandbox. */
  async envd(sandboxId: string): Promise<EnvdClient> {
    requireSandboxId(sandboxId);
    if (!this.resources.has(sandboxId)) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${sandboxId} is not on this host`);
    let client = this.envdClients.get(sandboxId);
    if (!client) {
      client = envdClientFor(sandboxId, await this.runtime.endpoint(sandboxId), this.options.envdErrorBodyMax);
      this.envdClients.set(sandboxId, client);
    }
    return client;
  }

  /**
   * How the envd proxy reaches a sandbox's envd: its URL and token, or, for a sandbox whose envd
   * this host serves itself, the in-process handler (no HTTP hop).
   */
  async envdRoute(sandboxId: string): Promise<EnvdRoute> {
    requireSandboxId(sandboxId);
    if (!this.resources.has(sandboxId)) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${sandboxId} is not on this host`);
    const { envdUrl, accessToken, envdHost } = await this.runtime.endpoint(sandboxId);
    return { baseUrl: envdUrl, accessToken, handle: envdHost ? (req, res) => envdHost.handle(sandboxId, req, res) : undefined };
  }

  async metrics(request: { sandboxId: string }): Promise<SandboxMetrics> {
    requireSandboxId(request.sandboxId);
    return this.runtime.metrics(request.sandboxId);
  }

  /**
   * Lets the commands already taken finish first (a delete answered to its caller is torn down
   * here, not cut off halfway and left for the next start), up to `drainMs`, then stops the runtime.
   */
  async shutdown(drainMs = SHUTDOWN_DRAIN_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
    return this.runtime.shutdown();
  }

  async list(): Promise<HostSandboxList> {
    const [sandboxIds, pausedIds] = await Promise.all([this.runtime.list(), this.runtime.listPaused()]);
    const startedAt: Record<string, number> = {};
    const now = Date.now();
    for (const id of sandboxIds) {
      const at = this.making.has(id) ? now : this.startedAt.get(id);
      if (at !== undefined) startedAt[id] = at;
    }
    return { sandboxIds, pausedIds, startedAt };
  }

  private dropEnvd(sandboxId: string): void {
    this.envdClients.get(sandboxId)?.close();
    this.envdClients.delete(sandboxId);
  }
}

function requireSpec(spec: SandboxSpec): void {
  if (typeof spec !== 'object' || spec === null) throw invalid('spec is required');
  requireSandboxId(spec.sandboxId);
  if (typeof spec.template !== 'string' || !isTemplateName(spec.template)) throw invalid(`template name "${String(spec.template)}" is not allowed`);
  if (spec.templateId !== undefined) requireTemplateId(spec.templateId);
  if (!positiveInt(spec.vcpus) || !positiveInt(spec.memoryMb)) throw invalid('vcpus and memoryMb must be positive integers');
  if (spec.network !== undefined) requireNetworkPolicy(spec.network);
}

/** The policy checked again here, where it becomes firewall rules (defense in depth). */
/** The allowlist again, here where names come near the host (defense in depth). */
function requireTemplateName(name: unknown): asserts name is string {
  if (!isTemplateName(name)) throw invalid(`template name "${String(name)}" is not allowed`);
}

function positiveInt(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

function invalid(message: string): WrennError {
  return new WrennError(ErrorCode.ValidationFailed, message);
}

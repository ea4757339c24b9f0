import {
  CreatedOnHost,
  CreateOnHost,
  DestroyOnHost,
  ErrorCode,
  ExecOnHost,
  ExecResult,
  HostSandboxList,
  isSandboxId,
  WrennError,
} from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { EnvdClient } from '../envd-client/envd.client';
import { RecoveryReport, SandboxMetrics, SandboxRuntime } from '../runtime/sandbox-runtime';
import { KeyedQueue } from './keyed-queue';

const TEMPLATE_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MAX_EXEC_TIMEOUT_SEC = 3600;

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
  private readonly resources = new Map<string, { vcpus: number; memoryMb: number }>();
  private readonly envdClients = new Map<string, EnvdClient>();

  constructor(
    private readonly runtime: SandboxRuntime,
    private readonly log: Logger,
  ) {}

  async start(): Promise<RecoveryReport> {
    await this.runtime.prepare();
    const report = await this.runtime.recover();
    for (const id of report.adopted) this.resources.set(id, await this.runtime.resources(id));
    return report;
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
    requireSandboxId(spec.sandboxId);
    if (!TEMPLATE_RE.test(spec.template)) throw invalid(`template name "${spec.template}" is not allowed`);
    if (!positiveInt(spec.vcpus) || !positiveInt(spec.memoryMb)) throw invalid('vcpus and memoryMb must be positive integers');
    return this.queue.run(spec.sandboxId, async () => {
      // A retried create (same sandbox, e.g. after the scheduler restarted) finds it made.
      if (this.resources.has(spec.sandboxId)) return { sandboxId: spec.sandboxId, elapsedMs: 0 };
      const started = performance.now();
      await this.runtime.create(spec);
      this.resources.set(spec.sandboxId, { vcpus: spec.vcpus, memoryMb: spec.memoryMb });
      const elapsedMs = Math.round(performance.now() - started);
      this.log.info({ sandboxId: spec.sandboxId, elapsedMs }, 'sandbox created');
      return { sandboxId: spec.sandboxId, elapsedMs };
    });
  }

  async destroy(command: DestroyOnHost): Promise<{ sandboxId: string }> {
    requireSandboxId(command.sandboxId);
    return this.queue.run(command.sandboxId, async () => {
      const started = performance.now();
      await this.runtime.destroy(command.sandboxId);
      this.resources.delete(command.sandboxId);
      this.envdClients.get(command.sandboxId)?.close();
      this.envdClients.delete(command.sandboxId);
      this.log.info({ sandboxId: command.sandboxId, elapsedMs: Math.round(performance.now() - started) }, 'sandbox destroyed');
      return { sandboxId: command.sandboxId };
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
      client = new EnvdClient((await this.runtime.endpoint(sandboxId)).envdUrl);
      this.envdClients.set(sandboxId, client);
    }
    return client;
  }

  async metrics(request: { sandboxId: string }): Promise<SandboxMetrics> {
    requireSandboxId(request.sandboxId);
    return this.runtime.metrics(request.sandboxId);
  }

  shutdown(): Promise<void> {
    return this.runtime.shutdown();
  }

  async list(): Promise<HostSandboxList> {
    return { sandboxIds: await this.runtime.list() };
  }
}

function requireSandboxId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !isSandboxId(id)) throw invalid(`"${String(id)}" is not a sandbox id`);
}

function positiveInt(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

function invalid(message: string): WrennError {
  return new WrennError(ErrorCode.ValidationFailed, message);
}

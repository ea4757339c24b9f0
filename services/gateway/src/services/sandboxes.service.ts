import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import {
  CommandAccepted,
  CreateSandboxRequest,
  DestroySandboxRequest,
  ErrorCode,
  isSandboxId,
  Naming,
  PauseSandboxRequest,
  ResumeSandboxRequest,
  SandboxMetricsOnHost,
  SandboxMetricsRequest,
  SchedulerCommand,
  ServiceName,
  SetSandboxTimeoutRequest,
  SetSandboxNetworkRequest,
  NetworkPolicy,
  normaliseNetworkPolicy,
  DEFAULT_NETWORK_POLICY,
  WrennError,
} from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { SandboxRow } from '@wrenn/db';
import { sendCommand } from '@wrenn/messaging';
import { SANDBOX_PROJECTION } from '@wrenn/projections';
import { CONFIG, NAMING } from '@wrenn/service-kit';
import { randomUUID } from 'node:crypto';
import { ulid } from 'ulid';
import { CreateSandboxDto, MetricsView, NetworkPolicyView, SandboxView } from '../dtos/sandbox.dto';
import { ActivityRecorder } from '../activity/activity.recorder';
import { commandMeta, ReadYourWrites } from './read-your-writes';
import { SandboxRepository } from '../repositories/sandbox.repository';
import { RunningSandbox, RunningSandboxesCache } from './running-sandboxes.cache';
import type { Caller } from '../auth/caller';

export const SCHEDULER_CLIENT = 'wrenn.scheduler-client';

// The access guard owns the caller; re-exported for the controllers that take it with this service.

export function networkView(policy: NetworkPolicy | null): NetworkPolicyView {
  const p = policy ?? DEFAULT_NETWORK_POLICY;
  return { allow_out: [...p.allowOut], deny_out: [...p.denyOut], allow_internet_access: p.allowInternetAccess };
}

/**
 * The API's snake_case policy checked and normalised: 400 validation_failed naming every bad
 * entry (fields like `allow_out[2]`), before anything is sent anywhere.
 */
export function networkPolicyFrom(input: { allow_out?: unknown; deny_out?: unknown; allow_internet_access?: unknown }): NetworkPolicy {
  const result = normaliseNetworkPolicy({ allowOut: input.allow_out, denyOut: input.deny_out, allowInternetAccess: input.allow_internet_access });
  if ('policy' in result) return result.policy;
  const snake = (k: string) => k.replace('allowOut', 'allow_out').replace('denyOut', 'deny_out').replace('allowInternetAccess', 'allow_internet_access');
  const fields = Object.entries(result.problems).map(([k, v]) => ({ field: snake(k), problems: [v] }));
  throw new WrennError(ErrorCode.ValidationFailed, `bad network policy: ${fields.map((f) => `${f.field} ${f.problems[0]}`).join('; ')}`, { fields });
}

export function toView(row: SandboxRow): SandboxView {
  return {
    id: row.id,
    // The read model keeps the state as text; the projection writes only the domain's states.
    state: row.state as SandboxView['state'],
    template: row.template,
    template_id: row.templateId,
    vcpus: row.vcpus,
    memory_mb: row.memoryMb,
    timeout_sec: row.timeoutSec,
    network: networkView(row.network),
    host_id: row.hostId,
    failure_reason: row.failureReason,
    snapshot_ref: row.snapshotRef,
    snapshot_size_bytes: row.snapshotSizeBytes === null ? null : Number(row.snapshotSizeBytes),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * Sandbox use cases as the REST API sees them: commands go to the scheduler over NATS, reads come
 * from the projection, and every write answers only after the projection has caught up with the
 * command's events (read-your-writes), so a GET right after sees the new state.
 */
@Injectable()
export class SandboxesService implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(SCHEDULER_CLIENT) private readonly scheduler: ClientProxy,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(CONFIG) private readonly config: WrennConfig,
    private readonly sandboxes: SandboxRepository,
    private readonly activity: ActivityRecorder,
    private readonly writes: ReadYourWrites,
    private readonly runningSandboxes: RunningSandboxesCache,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.scheduler.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.scheduler.close();
  }

  private subject(command: SchedulerCommand): string {
    return this.naming.commandSubject(ServiceName.SandboxScheduler, command);
  }

  /** Runs a scheduler command; answers once the sandboxes read model shows its outcome. */
  private command(command: SchedulerCommand, payload: unknown, timeoutMs: number): Promise<CommandAccepted> {
    return this.writes.send<CommandAccepted>(this.scheduler, this.subject(command), payload, {
      timeoutMs,
      service: 'the sandbox scheduler',
      projection: SANDBOX_PROJECTION,
    });
  }

  /**
   * The scheduler resolves the template and its size (a frozen template locks vcpus and
   * memory; built-in images default to 1 vCPU and 512 MB) and answers 404/400 for them: the
   * gateway only shapes the body into the command.
   */
  async create(caller: Caller, dto: CreateSandboxDto, correlationId: string = randomUUID()): Promise<SandboxView> {
    const sandboxId = `sb_${ulid().toLowerCase()}`;
    const payload: CreateSandboxRequest = {
      meta: commandMeta(caller, correlationId),
      sandboxId,
      template: dto.template,
      ...(dto.vcpus !== undefined ? { vcpus: dto.vcpus } : {}),
      ...(dto.memory_mb !== undefined ? { memoryMb: dto.memory_mb } : {}),
      ...(dto.disk_mb !== undefined ? { diskMb: dto.disk_mb } : {}),
      timeoutSec: dto.timeout_sec,
      network: networkPolicyFrom({ ...(dto.network ?? {}), allow_internet_access: dto.allow_internet_access }),
    };
    await this.command(SchedulerCommand.Create, payload, this.config.hostCreateTimeoutMs + 10_000);
    return this.get(caller, sandboxId);
  }

  async get(caller: Caller, id: string): Promise<SandboxView> {
    const row = await this.row(caller, id);
    this.activity.touch(id);
    return toView(row);
  }

  async pause(caller: Caller, id: string, correlationId: string = randomUUID()): Promise<SandboxView> {
    await this.row(caller, id);
    const payload: PauseSandboxRequest = { meta: commandMeta(caller, correlationId), sandboxId: id, reason: 'user' };
    this.runningSandboxes.forget(id);
    await this.command(SchedulerCommand.Pause, payload, this.config.hostCommandTimeoutMs + 10_000);
    return this.get(caller, id);
  }

  /** Resume counts as activity: the inactivity timer starts afresh from here. */
  async resume(caller: Caller, id: string, correlationId: string = randomUUID()): Promise<SandboxView> {
    await this.row(caller, id);
    const payload: ResumeSandboxRequest = { meta: commandMeta(caller, correlationId), sandboxId: id };
    this.runningSandboxes.forget(id);
    await this.command(SchedulerCommand.Resume, payload, this.config.hostCreateTimeoutMs + 10_000);
    await this.activity.touchNow(id);
    return this.get(caller, id);
  }

  /**
   * A new inactivity timeout (409 invalid_state once the sandbox is stopping or ended). It counts
   * as activity: the new timeout runs from now.
   */
  async setTimeout(caller: Caller, id: string, timeoutSec: number, correlationId: string = randomUUID()): Promise<SandboxView> {
    await this.row(caller, id);
    const payload: SetSandboxTimeoutRequest = { meta: commandMeta(caller, correlationId), sandboxId: id, timeoutSec };
    await this.command(SchedulerCommand.SetTimeout, payload, 10_000);
    await this.activity.touchNow(id);
    return this.get(caller, id);
  }

  /**
   * A new egress policy, whole: live on a running sandbox (its next packet meets it), kept for
   * the resume of a paused one; 409 invalid_state in any other state; 400 for a bad entry, with
   * nothing changed.
   */
  async setNetwork(caller: Caller, id: string, network: NetworkPolicy, correlationId: string = randomUUID()): Promise<SandboxView> {
    await this.row(caller, id);
    const payload: SetSandboxNetworkRequest = { meta: commandMeta(caller, correlationId), sandboxId: id, network };
    await this.command(SchedulerCommand.SetNetwork, payload, this.config.hostCommandTimeoutMs + 10_000);
    return this.get(caller, id);
  }

  /** Resets the sandbox's inactivity timer (durably, before answering) and answers the sandbox. */
  async ping(caller: Caller, id: string): Promise<SandboxView> {
    const row = await this.row(caller, id);
    await this.activity.touchNow(id);
    return toView(row);
  }

  private async row(caller: Caller, id: string): Promise<SandboxRow> {
    // An id that cannot exist is answered like one that does not: 404, no database round trip.
    const row = isSandboxId(id) ? await this.sandboxes.findForTeam(caller.teamId, id) : null;
    if (!row) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${id} not found`);
    return row;
  }

  async list(caller: Caller, options: { limit: number; state?: string }): Promise<SandboxView[]> {
    return (await this.sandboxes.listForTeam(caller.teamId, options)).map(toView);
  }

  /**
   * Answers the sandbox `deleting` as soon as the scheduler has accepted the delete (its host
   * finishes it in the background; the sandbox is then `deleted`), or `deleted` when no host had
   * anything left to do.
   */
  async destroy(caller: Caller, id: string, correlationId: string = randomUUID()): Promise<SandboxView> {
    await this.row(caller, id);
    const payload: DestroySandboxRequest = { meta: commandMeta(caller, correlationId), sandboxId: id };
    this.runningSandboxes.forget(id);
    await this.command(SchedulerCommand.Destroy, payload, this.config.hostCommandTimeoutMs + 10_000);
    await this.activity.forget(id);
    return toView(await this.row(caller, id));
  }

  async metrics(caller: Caller, id: string): Promise<MetricsView> {
    const row = await this.row(caller, id);
    this.activity.touch(id);
    if (row.state !== 'running' || !row.hostId) {
      throw notRunning(row.state, `no metrics for a sandbox that is ${row.state}`);
    }
    // Through the scheduler: the gateway's NATS creds may not publish host commands.
    const m = await sendCommand<SandboxMetricsOnHost>(this.scheduler, this.subject(SchedulerCommand.Metrics), { sandboxId: id, hostId: row.hostId } satisfies SandboxMetricsRequest, 12_000, 'the sandbox scheduler');
    return {
      cpu_usage_usec: m.cpuUsageUsec,
      memory_bytes: m.memoryBytes,
      memory_limit_bytes: m.memoryLimitBytes,
      pids: m.pids,
      oom_kills: m.oomKills,
      disk_bytes: m.diskBytes,
      vcpus: m.vcpus,
      memory_mb: m.memoryMb,
    };
  }

  /**
   * Where the sandbox runs, for a data-plane call (which needs a live sandbox and its host): from
   * memory in the steady state (see RunningSandboxesCache), else from the read model. The team
   * check is the same either way: another team's sandbox is not found. `fresh` skips the memory,
   * for a call whose host said it does not have the sandbox.
   */
  async requireRunning(caller: Caller, id: string, fresh = false): Promise<RunningSandbox & { cached: boolean }> {
    const known = fresh || !isSandboxId(id) ? undefined : this.runningSandboxes.get(id);
    if (known) {
      if (known.teamId !== caller.teamId) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${id} not found`);
      this.activity.touch(id);
      return { ...known, cached: true };
    }
    if (fresh) this.runningSandboxes.forget(id);
    const row = await this.row(caller, id);
    this.activity.touch(id);
    if (row.state !== 'running' || !row.hostId) throw notRunning(row.state, `sandbox ${id} is ${row.state}, not running`);
    this.runningSandboxes.remember(id, row);
    return { teamId: row.teamId, hostId: row.hostId, cached: false };
  }
}

/** 409 for a call that needs a running sandbox: `sandbox_deleting` once a delete is under way. */
function notRunning(state: string, message: string): WrennError {
  return new WrennError(state === 'deleting' ? ErrorCode.SandboxDeleting : ErrorCode.InvalidState, message, { state });
}

import { Inject, Injectable } from '@nestjs/common';
import {
  Aggregate,
  CommandAccepted,
  CommandMeta,
  CreatedOnHost,
  CreateOnHost,
  CreateSandboxRequest,
  DestroyOnHost,
  DestroySandboxRequest,
  ErrorCode,
  HostOp,
  WrennError,
} from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { SandboxCommand, SandboxEvent, sandboxDecider, SandboxState, SandboxStatus } from '@wrenn/domain';
import { CommandHandler, EventMetadata, EventStore, HandleResult } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { CONFIG, EVENT_STORE, LOGGER } from '@wrenn/service-kit';
import { HostClient } from '../hosts/host-client';
import { HostDirectory } from '../hosts/host-directory';

/** Templates the platform has before the snapshot catalog adds named ones. */
const BUILT_IN_TEMPLATES = new Set(['base']);

/**
 * Drives the Sandbox aggregate through a lifecycle: every step is a decided event, every piece of
 * host work a host.<id>.<op> command whose outcome becomes the next event.
 *
 * Each step's causation id is "<commandId>:<step>", so a retried command (same id) skips the
 * steps already on the log instead of doing them twice.
 */
@Injectable()
export class SandboxLifecycleService {
  private readonly sandboxes: CommandHandler<SandboxCommand, SandboxEvent, SandboxState>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly hosts: HostDirectory,
    private readonly hostClient: HostClient,
  ) {
    this.sandboxes = new CommandHandler(store, Aggregate.Sandbox, sandboxDecider);
  }

  private step(meta: CommandMeta, name: string): EventMetadata {
    return { correlationId: meta.correlationId, causationId: `${meta.commandId}:${name}`, actor: meta.actor, teamId: meta.teamId };
  }

  private decide(id: string, command: SandboxCommand, meta: CommandMeta, step: string): Promise<HandleResult<SandboxState>> {
    return this.sandboxes.handle(id, command, this.step(meta, step));
  }

  async create(req: CreateSandboxRequest): Promise<CommandAccepted> {
    const log = this.log.child({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId });
    const started = performance.now();
    if (!BUILT_IN_TEMPLATES.has(req.template)) {
      throw new WrennError(ErrorCode.TemplateNotFound, `template "${req.template}" does not exist`);
    }
    const requested = await this.decide(
      req.sandboxId,
      {
        type: 'RequestSandbox',
        sandboxId: req.sandboxId,
        teamId: req.meta.teamId,
        template: req.template,
        vcpus: req.vcpus,
        memoryMb: req.memoryMb,
        timeoutSec: req.timeoutSec,
      },
      req.meta,
      'request',
    );
    // A retry of a create that already got further has nothing left to do here.
    if (requested.state.status !== SandboxStatus.Pending) return { sandboxId: req.sandboxId, seq: requested.seq };

    const host = this.hosts.place({ vcpus: req.vcpus, memoryMb: req.memoryMb });
    if (!host) {
      const failed = await this.decide(req.sandboxId, { type: 'MarkFailed', reason: 'no host with free capacity' }, req.meta, 'fail');
      throw new WrennError(ErrorCode.NoHostAvailable, 'no live host has capacity for this sandbox', {
        sandbox_id: req.sandboxId,
        seq: failed.seq,
      });
    }
    await this.decide(req.sandboxId, { type: 'ScheduleSandbox', hostId: host.hostId, bootId: host.bootId }, req.meta, 'schedule');

    let created: CreatedOnHost;
    try {
      const payload: CreateOnHost = {
        commandId: req.meta.commandId,
        spec: { sandboxId: req.sandboxId, teamId: req.meta.teamId, template: req.template, vcpus: req.vcpus, memoryMb: req.memoryMb },
      };
      created = await this.hostClient.send<CreatedOnHost>(host.hostId, HostOp.Create, payload, this.config.hostCreateTimeoutMs);
    } catch (error) {
      const reason = (error as Error).message;
      log.warn({ hostId: host.hostId, err: error }, 'create on host failed');
      const failed = await this.decide(req.sandboxId, { type: 'MarkFailed', reason: `create on host ${host.hostId} failed: ${reason}` }, req.meta, 'fail');
      // The agent rolls back its own partial work; a destroy covers a create that finished
      // after we stopped waiting. It is idempotent, so sending it blind is safe.
      void this.hostClient
        .send(host.hostId, HostOp.Destroy, { commandId: req.meta.commandId, sandboxId: req.sandboxId } satisfies DestroyOnHost, this.config.hostCommandTimeoutMs)
        .catch(() => undefined);
      const code = error instanceof WrennError && error.code !== ErrorCode.Internal ? error.code : ErrorCode.HostOperationFailed;
      throw new WrennError(code, `sandbox could not be started: ${reason}`, { sandbox_id: req.sandboxId, seq: failed.seq });
    }

    try {
      const running = await this.decide(req.sandboxId, { type: 'MarkStarted', hostId: host.hostId, elapsedMs: created.elapsedMs }, req.meta, 'started');
      log.info({ hostId: host.hostId, hostMs: created.elapsedMs, totalMs: Math.round(performance.now() - started) }, 'sandbox running');
      return { sandboxId: req.sandboxId, seq: running.seq };
    } catch (error) {
      // Destroyed while it was being created: the destroy owns the outcome now.
      if (error instanceof WrennError && error.code === ErrorCode.InvalidState) {
        const { version } = await this.sandboxes.state(req.sandboxId);
        return { sandboxId: req.sandboxId, seq: version };
      }
      throw error;
    }
  }

  async destroy(req: DestroySandboxRequest): Promise<CommandAccepted> {
    const { state } = await this.sandboxes.state(req.sandboxId);
    if (state.status === 'initial' || state.teamId !== req.meta.teamId) {
      throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${req.sandboxId} not found`);
    }
    // Only the request decides; a re-driven destroy of a sandbox already stopping continues.
    if (state.status !== SandboxStatus.Stopping) {
      await this.decide(req.sandboxId, { type: 'RequestStop' }, req.meta, 'stop');
    }
    // A lost host is gone and a pending sandbox never reached one: nothing to tear down there.
    const hostId = state.status === SandboxStatus.Lost || state.status === SandboxStatus.Pending ? null : state.hostId;
    if (hostId !== null) {
      try {
        await this.hostClient.send(
          hostId,
          HostOp.Destroy,
          { commandId: req.meta.commandId, sandboxId: req.sandboxId } satisfies DestroyOnHost,
          this.config.hostCommandTimeoutMs,
        );
      } catch (error) {
        const reason = `destroy on host ${hostId} failed: ${(error as Error).message}`;
        const failed = await this.decide(req.sandboxId, { type: 'MarkFailed', reason }, req.meta, 'fail');
        throw new WrennError(ErrorCode.HostOperationFailed, reason, { sandbox_id: req.sandboxId, seq: failed.seq });
      }
    }
    const stopped = await this.decide(req.sandboxId, { type: 'MarkStopped' }, req.meta, 'stopped');
    return { sandboxId: req.sandboxId, seq: stopped.seq };
  }

  /** Used by the reaper's sweep: fail a sandbox whose in-flight host work died with its agent. */
  async fail(sandboxId: string, reason: string, meta: CommandMeta): Promise<CommandAccepted> {
    const result = await this.decide(sandboxId, { type: 'MarkFailed', reason }, meta, 'fail');
    return { sandboxId, seq: result.seq };
  }
}

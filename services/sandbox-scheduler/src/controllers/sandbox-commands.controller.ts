import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { variable } from '@wrenn/config';
import {
  CommandAccepted,
  CreateSandboxRequest,
  DestroySandboxRequest,
  failed,
  FailSandboxRequest,
  MarkLostRequest,
  PauseSandboxRequest,
  ResumeSandboxRequest,
  QuotasRequest,
  QuotasResult,
  SetSandboxTimeoutRequest,
  SetSandboxNetworkRequest,
  HostOp,
  naming,
  SandboxMetricsOnHost,
  SandboxMetricsRequest,
  ok,
  Reply,
  SchedulerCommand,
  ServiceName,
} from '@wrenn/contracts';
import { sandboxCreateDuration, sandboxResumeDuration, timed } from '@wrenn/observability';
import { HostClient } from '@wrenn/messaging';
import { SandboxLifecycleService } from '../services/sandbox-lifecycle.service';

// Patterns are resolved when the module loads: WRENN_NS must be set before the service boots.
const subjects = naming(variable('WRENN_NS'));
const subject = (command: SchedulerCommand) => subjects.commandSubject(ServiceName.SandboxScheduler, command);

/** Control-plane commands for sandboxes; replies are Reply envelopes, never transport errors. */
@Controller()
export class SandboxCommandsController {
  constructor(
    private readonly lifecycle: SandboxLifecycleService,
    private readonly hostClient: HostClient,
  ) {}

  /** Asks the sandbox's host for its metrics: the gateway reaches hosts only through here. */
  @MessagePattern(subject(SchedulerCommand.Metrics))
  async metrics(@Payload() request: SandboxMetricsRequest): Promise<Reply<SandboxMetricsOnHost>> {
    return this.hostClient.send(request.hostId, HostOp.Metrics, { sandboxId: request.sandboxId }, 10_000).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.Create))
  async create(@Payload() request: CreateSandboxRequest): Promise<Reply<CommandAccepted>> {
    return timed(sandboxCreateDuration, {}, () => this.lifecycle.create(request)).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.Destroy))
  async destroy(@Payload() request: DestroySandboxRequest): Promise<Reply<CommandAccepted>> {
    return this.lifecycle.destroy(request).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.Pause))
  async pause(@Payload() request: PauseSandboxRequest): Promise<Reply<CommandAccepted>> {
    return this.lifecycle.pause(request).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.Resume))
  async resume(@Payload() request: ResumeSandboxRequest): Promise<Reply<CommandAccepted>> {
    return timed(sandboxResumeDuration, {}, () => this.lifecycle.resume(request)).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.SetTimeout))
  async setTimeout(@Payload() request: SetSandboxTimeoutRequest): Promise<Reply<CommandAccepted>> {
    return this.lifecycle.setTimeout(request).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.SetNetwork))
  async setNetwork(@Payload() request: SetSandboxNetworkRequest): Promise<Reply<CommandAccepted>> {
    return this.lifecycle.setNetwork(request).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.Quotas))
  async quotas(@Payload() request: QuotasRequest): Promise<Reply<QuotasResult>> {
    return this.lifecycle.quotaFigures(request.meta.teamId).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.MarkLost))
  async markLost(@Payload() request: MarkLostRequest): Promise<Reply<CommandAccepted>> {
    return this.lifecycle.markLost(request).then(ok, failed);
  }

  @MessagePattern(subject(SchedulerCommand.Fail))
  async fail(@Payload() request: FailSandboxRequest): Promise<Reply<CommandAccepted>> {
    return this.lifecycle.fail(request.sandboxId, request.reason, request.meta, request.whileIn).then(ok, failed);
  }
}

import { Controller, Get, Inject } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { QuotaFigures, QuotasRequest, QuotasResult, SchedulerCommand, ServiceName, Naming } from '@wrenn/contracts';
import { sendCommand } from '@wrenn/messaging';
import { NAMING } from '@wrenn/service-kit';
import { randomUUID } from 'node:crypto';
import { CurrentCaller } from '../auth/access.decorators';
import type { OpenApiComponents as components } from '@wrenn/sdk';
import { commandMeta } from '../services/read-your-writes';
import { SCHEDULER_CLIENT } from '../services/sandboxes.service';
import type { Caller } from '../auth/caller';

export type QuotaFiguresView = components['schemas']['QuotaFigures'];
export type QuotasView = components['schemas']['Quotas'];

function view(f: QuotaFigures): QuotaFiguresView {
  return {
    running_sandboxes: f.runningSandboxes,
    vcpus: f.vcpus,
    memory_mb: f.memoryMb,
    paused_sandboxes: f.pausedSandboxes,
    snapshot_bytes: f.snapshotBytes,
    creates_per_minute: f.createsPerMinute,
  };
}

/**
 * The team's quota limits and what it uses now, as the scheduler's quota aggregate holds them
 * (the same state its decisions read, not a read model that may lag).
 */
@Controller('v1/quotas')
export class QuotasController {
  constructor(
    @Inject(SCHEDULER_CLIENT) private readonly scheduler: ClientProxy,
    @Inject(NAMING) private readonly naming: Naming,
  ) {}

  @Get()
  async quotas(@CurrentCaller() caller: Caller): Promise<QuotasView> {
    const request: QuotasRequest = { meta: commandMeta(caller, randomUUID()) };
    const result = await sendCommand<QuotasResult>(this.scheduler, this.naming.commandSubject(ServiceName.SandboxScheduler, SchedulerCommand.Quotas), request, 10_000, 'the sandbox scheduler');
    return { limits: view(result.limits), usage: view(result.usage) };
  }
}

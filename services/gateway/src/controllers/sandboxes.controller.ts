import { IntFromString, Omittable } from '../errors/validation';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Headers } from '@nestjs/common';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { SANDBOX_STATUSES } from '@wrenn/domain';
import { CreateSandboxDto, ExecDto, NetworkPolicyDto, SetTimeoutDto, ExecView, MetricsView, SandboxView } from '../dtos/sandbox.dto';
import { SandboxDataService } from '../services/sandbox-data.service';
import { CurrentCaller } from '../auth/access.decorators';
import { networkPolicyFrom, SandboxesService } from '../services/sandboxes.service';
import type { Caller } from '../auth/caller';
import type { JsonAnswer } from '../dtos/wire';

class ListQuery {
  @Omittable() @IntFromString() @IsInt() @Min(1) @Max(1000)
  limit: number = 100;

  @Omittable() @IsIn(SANDBOX_STATUSES as string[])
  state?: string;
}

/** Sandboxes of the caller's team (API key); another team's sandbox answers 404. */
@Controller('v1/sandboxes')
export class SandboxesController {
  constructor(
    private readonly sandboxes: SandboxesService,
    private readonly data: SandboxDataService,
  ) {}

  @Post()
  @HttpCode(201)
  create(@CurrentCaller() caller: Caller, @Body() body: CreateSandboxDto, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.create(caller, body, correlationId?.slice(0, 128) || undefined);
  }

  @Get()
  async list(@CurrentCaller() caller: Caller, @Query() query: ListQuery): Promise<JsonAnswer<'/v1/sandboxes', 'get'>> {
    return { sandboxes: await this.sandboxes.list(caller, query) };
  }

  @Get(':id')
  get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<SandboxView> {
    return this.sandboxes.get(caller, id);
  }

  @Delete(':id')
  destroy(@CurrentCaller() caller: Caller, @Param('id') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.destroy(caller, id, correlationId?.slice(0, 128) || undefined);
  }

  @Post(':id/pause')
  @HttpCode(200)
  pause(@CurrentCaller() caller: Caller, @Param('id') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.pause(caller, id, correlationId?.slice(0, 128) || undefined);
  }

  @Post(':id/resume')
  @HttpCode(200)
  resume(@CurrentCaller() caller: Caller, @Param('id') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.resume(caller, id, correlationId?.slice(0, 128) || undefined);
  }

  @Post(':id/timeout')
  @HttpCode(200)
  setTimeout(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: SetTimeoutDto, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.setTimeout(caller, id, body.timeout_sec, correlationId?.slice(0, 128) || undefined);
  }

  @Put(':id/network')
  @HttpCode(200)
  setNetwork(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: NetworkPolicyDto, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.setNetwork(caller, id, networkPolicyFrom(body), correlationId?.slice(0, 128) || undefined);
  }

  @Post(':id/ping')
  @HttpCode(200)
  ping(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<SandboxView> {
    return this.sandboxes.ping(caller, id);
  }

  @Get(':id/metrics')
  metrics(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<MetricsView> {
    return this.sandboxes.metrics(caller, id);
  }

  @Post(':id/exec')
  @HttpCode(200)
  exec(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: ExecDto): Promise<ExecView> {
    return this.data.exec(caller, id, body);
  }
}

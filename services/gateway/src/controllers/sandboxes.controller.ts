import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Headers } from '@nestjs/common';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Type } from 'class-transformer';
import { SANDBOX_STATUSES } from '@wrenn/domain';
import { CreateSandboxDto, ExecDto, ExecView, MetricsView, SandboxView } from '../dtos/sandbox.dto';
import { SandboxDataService } from '../services/sandbox-data.service';
import { Caller, SandboxesService } from '../services/sandboxes.service';

class ListQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit: number = 100;

  @IsOptional() @IsIn(SANDBOX_STATUSES as string[])
  state?: string;
}

/** Until identity exists, every request acts for the default team. */
export const DEFAULT_CALLER: Caller = { teamId: 'team_default', actor: { kind: 'anonymous', id: 'anonymous' } };

@Controller('v1/sandboxes')
export class SandboxesController {
  constructor(
    private readonly sandboxes: SandboxesService,
    private readonly data: SandboxDataService,
  ) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: CreateSandboxDto, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.create(DEFAULT_CALLER, body, correlationId?.slice(0, 128) || undefined);
  }

  @Get()
  async list(@Query() query: ListQuery): Promise<{ sandboxes: SandboxView[] }> {
    return { sandboxes: await this.sandboxes.list(DEFAULT_CALLER, query) };
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<SandboxView> {
    return this.sandboxes.get(DEFAULT_CALLER, id);
  }

  @Delete(':id')
  destroy(@Param('id') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.destroy(DEFAULT_CALLER, id, correlationId?.slice(0, 128) || undefined);
  }

  @Post(':id/pause')
  @HttpCode(200)
  pause(@Param('id') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.pause(DEFAULT_CALLER, id, correlationId?.slice(0, 128) || undefined);
  }

  @Post(':id/resume')
  @HttpCode(200)
  resume(@Param('id') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<SandboxView> {
    return this.sandboxes.resume(DEFAULT_CALLER, id, correlationId?.slice(0, 128) || undefined);
  }

  @Post(':id/ping')
  @HttpCode(200)
  ping(@Param('id') id: string): Promise<SandboxView> {
    return this.sandboxes.ping(DEFAULT_CALLER, id);
  }

  @Get(':id/metrics')
  metrics(@Param('id') id: string): Promise<MetricsView> {
    return this.sandboxes.metrics(DEFAULT_CALLER, id);
  }

  @Post(':id/exec')
  @HttpCode(200)
  exec(@Param('id') id: string, @Body() body: ExecDto): Promise<ExecView> {
    return this.data.exec(DEFAULT_CALLER, id, body);
  }
}

import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Query, Res, UseFilters } from '@nestjs/common';
import type { Response } from 'express';
import type { Caller } from '../auth/caller';
import { CurrentCaller } from '../auth/access.decorators';
import { E2bErrorFilter } from './e2b-error.filter';
import { E2bConnectDto, E2bListedSandbox, E2bListQuery, E2bMetricsQuery, E2bNewSandboxDto, E2bPauseDto, E2bRunningListQuery, E2bSandbox, E2bSandboxDetail, E2bSandboxMetric, E2bTimeoutDto, E2bNetworkUpdateDto } from './e2b.dto';
import { E2bSandboxesService } from './e2b-sandboxes.service';

function correlation(id?: string): string | undefined {
  return id?.slice(0, 128) || undefined;
}

/**
 * E2B's sandbox API under /e2b, so that E2B_API_URL=http://HOST:PORT/e2b points the official SDKs
 * at Wrenn. Paths, field names and status codes are E2B's (see docs/e2b-compat.md).
 */
@Controller('e2b')
@UseFilters(E2bErrorFilter)
export class E2bSandboxesController {
  constructor(private readonly e2b: E2bSandboxesService) {}

  @Post(['sandboxes', 'v2/sandboxes'])
  @HttpCode(201)
  create(@CurrentCaller() caller: Caller, @Body() body: E2bNewSandboxDto, @Headers('x-correlation-id') correlationId?: string): Promise<E2bSandbox> {
    return this.e2b.create(caller, body, correlation(correlationId));
  }

  @Get('v2/sandboxes')
  list(@CurrentCaller() caller: Caller, @Query() query: E2bListQuery): Promise<E2bListedSandbox[]> {
    return this.e2b.list(caller, query);
  }

  /** The v1 list: running sandboxes only. */
  @Get('sandboxes')
  listRunning(@CurrentCaller() caller: Caller, @Query() query: E2bRunningListQuery): Promise<E2bListedSandbox[]> {
    return this.e2b.list(caller, { ...query, state: 'running' });
  }

  @Get('sandboxes/:sandboxID')
  get(@CurrentCaller() caller: Caller, @Param('sandboxID') id: string): Promise<E2bSandboxDetail> {
    return this.e2b.get(caller, id);
  }

  @Delete('sandboxes/:sandboxID')
  @HttpCode(204)
  async kill(@CurrentCaller() caller: Caller, @Param('sandboxID') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<void> {
    await this.e2b.kill(caller, id, correlation(correlationId));
  }

  @Get('sandboxes/:sandboxID/metrics')
  metrics(@CurrentCaller() caller: Caller, @Param('sandboxID') id: string, @Query() _query: E2bMetricsQuery): Promise<E2bSandboxMetric[]> {
    return this.e2b.metrics(caller, id);
  }

  @Post('sandboxes/:sandboxID/timeout')
  @HttpCode(204)
  async setTimeout(@CurrentCaller() caller: Caller, @Param('sandboxID') id: string, @Body() body: E2bTimeoutDto, @Headers('x-correlation-id') correlationId?: string): Promise<void> {
    await this.e2b.setTimeout(caller, id, body.timeout, correlation(correlationId));
  }

  @Put('sandboxes/:sandboxID/network')
  @HttpCode(204)
  async updateNetwork(@CurrentCaller() caller: Caller, @Param('sandboxID') id: string, @Body() body: E2bNetworkUpdateDto, @Headers('x-correlation-id') correlationId?: string): Promise<void> {
    await this.e2b.updateNetwork(caller, id, body, correlation(correlationId));
  }

  @Post('sandboxes/:sandboxID/pause')
  @HttpCode(204)
  async pause(@CurrentCaller() caller: Caller, @Param('sandboxID') id: string, @Body() body: E2bPauseDto, @Headers('x-correlation-id') correlationId?: string): Promise<void> {
    await this.e2b.pause(caller, id, body, correlation(correlationId));
  }

  /** 200 when the sandbox was running, 201 when it had to be resumed — E2B's distinction. */
  @Post(['sandboxes/:sandboxID/connect', 'v2/sandboxes/:sandboxID/connect', 'sandboxes/:sandboxID/resume'])
  async connect(
    @CurrentCaller() caller: Caller,
    @Param('sandboxID') id: string,
    @Body() body: E2bConnectDto,
    @Res({ passthrough: true }) res: Response,
    @Headers('x-correlation-id') correlationId?: string,
  ): Promise<E2bSandbox> {
    const { resumed, sandbox } = await this.e2b.connect(caller, id, body, correlation(correlationId));
    res.status(resumed ? 201 : 200);
    return sandbox;
  }
}

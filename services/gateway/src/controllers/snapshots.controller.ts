import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { CreateSnapshotDto, SnapshotView } from '../dtos/snapshot.dto';
import { SnapshotsService } from '../services/snapshots.service';
import { DEFAULT_CALLER } from './sandboxes.controller';

/** Snapshot templates: freeze a running sandbox under a name, list them, delete one. */
@Controller('v1/snapshots')
export class SnapshotsController {
  constructor(private readonly snapshots: SnapshotsService) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: CreateSnapshotDto, @Headers('x-correlation-id') correlationId?: string): Promise<SnapshotView> {
    return this.snapshots.create(DEFAULT_CALLER, body, correlationId?.slice(0, 128) || undefined);
  }

  @Get()
  async list(): Promise<{ snapshots: SnapshotView[] }> {
    return { snapshots: await this.snapshots.list(DEFAULT_CALLER) };
  }

  @Delete(':name')
  delete(@Param('name') name: string, @Headers('x-correlation-id') correlationId?: string): Promise<SnapshotView> {
    return this.snapshots.delete(DEFAULT_CALLER, name, correlationId?.slice(0, 128) || undefined);
  }
}

import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { CreateSnapshotDto, SnapshotView } from '../dtos/snapshot.dto';
import { SnapshotsService } from '../services/snapshots.service';
import { CurrentCaller } from '../auth/access.decorators';
import { Caller } from '../services/sandboxes.service';

/** Snapshot templates of the caller's team (API key): freeze a running sandbox under a name, list them, delete one. */
@Controller('v1/snapshots')
export class SnapshotsController {
  constructor(private readonly snapshots: SnapshotsService) {}

  @Post()
  @HttpCode(201)
  create(@CurrentCaller() caller: Caller, @Body() body: CreateSnapshotDto, @Headers('x-correlation-id') correlationId?: string): Promise<SnapshotView> {
    return this.snapshots.create(caller, body, correlationId?.slice(0, 128) || undefined);
  }

  @Get()
  async list(@CurrentCaller() caller: Caller): Promise<{ snapshots: SnapshotView[] }> {
    return { snapshots: await this.snapshots.list(caller) };
  }

  @Delete(':name')
  delete(@CurrentCaller() caller: Caller, @Param('name') name: string, @Headers('x-correlation-id') correlationId?: string): Promise<SnapshotView> {
    return this.snapshots.delete(caller, name, correlationId?.slice(0, 128) || undefined);
  }
}

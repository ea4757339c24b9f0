import { Controller, Get, Query } from '@nestjs/common';
import { AuditPageView, AuditQuery } from '../dtos/audit.dto';
import { AuditService } from '../services/audit.service';
import { CurrentCaller } from '../auth/access.decorators';
import type { Caller } from '../auth/caller';

@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  list(@CurrentCaller() caller: Caller, @Query() query: AuditQuery): Promise<AuditPageView> {
    return this.audit.list(caller, query);
  }
}

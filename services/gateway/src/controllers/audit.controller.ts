import { Controller, Get, Query } from '@nestjs/common';
import { AuditPageView, AuditQuery } from '../dtos/audit.dto';
import { AuditService } from '../services/audit.service';
import { DEFAULT_CALLER } from './sandboxes.controller';

@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  list(@Query() query: AuditQuery): Promise<AuditPageView> {
    return this.audit.list(DEFAULT_CALLER, query);
  }
}

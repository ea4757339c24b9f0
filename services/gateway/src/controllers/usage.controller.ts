import { Controller, Get, Query } from '@nestjs/common';
import { UsageQuery, UsageView } from '../dtos/usage.dto';
import { UsageService } from '../services/usage.service';
import { DEFAULT_CALLER } from './sandboxes.controller';

@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  totals(@Query() query: UsageQuery): Promise<UsageView> {
    return this.usage.totals(DEFAULT_CALLER, query);
  }
}

import { Controller, Get, Query } from '@nestjs/common';
import { UsageQuery, UsageView } from '../dtos/usage.dto';
import { UsageService } from '../services/usage.service';
import { CurrentCaller } from '../auth/access.decorators';
import type { Caller } from '../auth/caller';

@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  totals(@CurrentCaller() caller: Caller, @Query() query: UsageQuery): Promise<UsageView> {
    return this.usage.totals(caller, query);
  }
}

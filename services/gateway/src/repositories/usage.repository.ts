import { Inject, Injectable } from '@nestjs/common';
import { readUsageTotals, UsageTotals } from '@wrenn/projections';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';

/** The gateway's only access to the usage read model (its SQL lives beside the projection that owns it). */
@Injectable()
export class UsageRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  totalsForTeam(teamId: string, window: { fromMs: number; toMs: number; openUntilMs: number }): Promise<UsageTotals> {
    return readUsageTotals(this.ds, teamId, window);
  }
}

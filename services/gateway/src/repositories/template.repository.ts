import { Inject, Injectable } from '@nestjs/common';
import { TemplateRow } from '@wrenn/db';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource, In, Repository } from 'typeorm';

/** The gateway's only access to the templates read model. Always team-scoped. */
@Injectable()
export class TemplateRepository {
  private readonly repo: Repository<TemplateRow>;

  constructor(@Inject(DATA_SOURCE) ds: DataSource) {
    this.repo = ds.getRepository(TemplateRow);
  }

  findById(teamId: string, id: string): Promise<TemplateRow | null> {
    return this.repo.findOne({ where: { teamId, id } });
  }

  /** Creating and ready templates; deleted and failed ones no longer hold their name. */
  listForTeam(teamId: string): Promise<TemplateRow[]> {
    return this.repo.find({ where: { teamId, state: In(['creating', 'ready']) }, order: { name: 'ASC' } });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { SandboxRow } from '@wrenn/db';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource, Repository } from 'typeorm';

/** The gateway's only access to the sandboxes read model. Always team-scoped. */
@Injectable()
export class SandboxRepository {
  private readonly repo: Repository<SandboxRow>;

  constructor(@Inject(DATA_SOURCE) ds: DataSource) {
    this.repo = ds.getRepository(SandboxRow);
  }

  findForTeam(teamId: string, id: string): Promise<SandboxRow | null> {
    return this.repo.findOne({ where: { id, teamId } });
  }

  /** Unscoped: only for callers that proved access to this one sandbox otherwise (its envd token). */
  findById(id: string): Promise<SandboxRow | null> {
    return this.repo.findOne({ where: { id } });
  }

  listForTeam(teamId: string, options: { limit: number; state?: string }): Promise<SandboxRow[]> {
    return this.repo.find({
      where: options.state ? { teamId, state: options.state } : { teamId },
      order: { createdAt: 'DESC', id: 'DESC' },
      take: options.limit,
    });
  }
}

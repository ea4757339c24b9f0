import { Inject, Injectable } from '@nestjs/common';
import { TemplateRow } from '@wrenn/db';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';

export interface ReadyTemplate {
  id: string;
  hostId: string;
  vcpus: number;
  memoryMb: number;
}

/**
 * The scheduler's read of the templates read model: which ready template a team's name means,
 * where its files are and the size it locks sandboxes to.
 */
@Injectable()
export class TemplateLookup {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  async readyForTeam(teamId: string, name: string): Promise<ReadyTemplate | null> {
    const row = await this.ds.getRepository(TemplateRow).findOne({ where: { teamId, name, state: 'ready' } });
    return row ? { id: row.id, hostId: row.hostId, vcpus: row.vcpus, memoryMb: row.memoryMb } : null;
  }
}

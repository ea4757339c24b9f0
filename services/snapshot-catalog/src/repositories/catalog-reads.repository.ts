import { Inject, Injectable } from '@nestjs/common';
import { TemplateRow } from '@wrenn/db';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource, In } from 'typeorm';

/** What the catalog reads from the read models (templates, and sandboxes made from them). */
@Injectable()
export class CatalogReadsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /** The team's live (creating or ready) template of that name. */
  findLiveByName(teamId: string, name: string): Promise<TemplateRow | null> {
    return this.ds.getRepository(TemplateRow).findOne({ where: { teamId, name, state: In(['creating', 'ready']) } });
  }

  /** Sandboxes started from the template that are not stopped (paused ones included). */
  async sandboxesUsing(templateId: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.ds.query(
      `SELECT id FROM sandboxes WHERE template_id = $1 AND state <> 'deleted' ORDER BY id LIMIT 20`,
      [templateId],
    );
    return rows.map((r) => r.id);
  }
}

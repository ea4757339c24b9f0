import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';

export interface AuditRow {
  seq: string;
  event_id: string;
  team_id: string;
  actor_kind: string;
  actor_id: string;
  event_type: string;
  event_version: number;
  resource_type: string;
  resource_id: string;
  correlation_id: string;
  causation_id: string;
  occurred_at: Date;
}

export interface AuditFilter {
  beforeSeq?: number;
  resourceType?: string;
  resourceId?: string;
  from?: string;
  to?: string;
  limit: number;
}

/** The gateway's only access to the audit log. Always team-scoped; the platform's own events never show. */
@Injectable()
export class AuditRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /** Newest first. */
  listForTeam(teamId: string, filter: AuditFilter): Promise<AuditRow[]> {
    const where = [`team_id = $1`, `team_id <> 'system'`];
    const params: unknown[] = [teamId];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.beforeSeq !== undefined) add('seq < ?', filter.beforeSeq);
    if (filter.resourceType !== undefined) add('resource_type = ?', filter.resourceType);
    if (filter.resourceId !== undefined) add('resource_id = ?', filter.resourceId);
    if (filter.from !== undefined) add('occurred_at >= ?::timestamptz', filter.from);
    if (filter.to !== undefined) add('occurred_at < ?::timestamptz', filter.to);
    params.push(filter.limit);
    return this.ds.query(
      `SELECT seq, event_id, team_id, actor_kind, actor_id, event_type, event_version, resource_type, resource_id,
              correlation_id, causation_id, occurred_at
       FROM audit_log WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
  }
}

import { Injectable } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { AuditEntryView, AuditPageView, AuditQuery } from '../dtos/audit.dto';
import { AuditRepository, AuditRow } from '../repositories/audit.repository';
import type { Caller } from '../auth/caller';

function toView(row: AuditRow): AuditEntryView {
  return {
    seq: Number(row.seq),
    event_id: row.event_id,
    type: row.event_type,
    version: row.event_version,
    resource: { type: row.resource_type, id: row.resource_id },
    actor: { kind: row.actor_kind, id: row.actor_id },
    team_id: row.team_id,
    correlation_id: row.correlation_id,
    causation_id: row.causation_id,
    occurred_at: row.occurred_at.toISOString(),
  };
}

function instant(raw: string, name: string): string {
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new WrennError(ErrorCode.ValidationFailed, `${name} is not a valid time`, { [name]: raw });
  return new Date(ms).toISOString();
}

/**
 * The team's audit trail, newest first. The cursor is the stream sequence of the last entry
 * returned: sequences never change, so pages neither skip nor repeat entries while new events
 * arrive.
 */
@Injectable()
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  async list(caller: Caller, query: AuditQuery): Promise<AuditPageView> {
    // Read as JavaScript reads ISO 8601 (a date alone is UTC midnight), never in the database's time zone.
    const from = query.from === undefined ? undefined : instant(query.from, 'from');
    const to = query.to === undefined ? undefined : instant(query.to, 'to');
    if (from !== undefined && to !== undefined && from >= to) {
      throw new WrennError(ErrorCode.ValidationFailed, 'from must be before to', { from: query.from, to: query.to });
    }
    const rows = await this.audit.listForTeam(caller.teamId, {
      beforeSeq: query.cursor === undefined ? undefined : Number(query.cursor),
      resourceType: query.resource_type,
      resourceId: query.resource_id,
      from,
      to,
      limit: query.limit + 1,
    });
    const more = rows.length > query.limit;
    const page = rows.slice(0, query.limit).map(toView);
    return { entries: page, next_cursor: more ? String(page[page.length - 1].seq) : null };
  }
}

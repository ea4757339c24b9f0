import { Aggregate, Naming } from '@wrenn/contracts';
import { isTemplateEventType, TemplateEvent, TemplateEventType as T, TemplateStatus } from '@wrenn/domain';
import { StoredEvent } from '@wrenn/eventlog';
import { Projection } from './projection';
import { EntityManager } from 'typeorm';

export const TEMPLATE_PROJECTION = 'templates';

function stateAfter(event: TemplateEvent): string {
  switch (event.type) {
    case T.Requested: return TemplateStatus.Creating;
    case T.Created: return TemplateStatus.Ready;
    case T.Failed: return TemplateStatus.Failed;
    case T.Deleted: return TemplateStatus.Deleted;
  }
}

/**
 * The `templates` read model. Deleted templates keep their row (state `deleted`) so the history
 * stays inspectable; the API lists only the others. Timestamps come from the events.
 */
export function templateProjection(naming: Naming): Projection {
  return {
    name: TEMPLATE_PROJECTION,
    filterSubject: naming.aggregateWildcard(Aggregate.Template),
    tables: ['templates'],
    async apply(stored: StoredEvent, tx: EntityManager): Promise<void> {
      if (stored.version !== 1) throw new Error(`${stored.type} v${stored.version} is not understood by this projection`);
      if (!isTemplateEventType(stored.type)) throw new Error(`unknown template event type ${stored.type}`);
      const event = { type: stored.type, data: stored.data } as TemplateEvent;
      const id = stored.aggregateId;
      if (event.type === T.Requested) {
        const d = event.data;
        await tx.query(
          `INSERT INTO templates (id, team_id, name, state, source_sandbox_id, host_id, vcpus, memory_mb, version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
          [id, d.teamId, d.name, stateAfter(event), d.sandboxId, d.hostId, d.vcpus, d.memoryMb, stored.seq, stored.occurredAt],
        );
        return;
      }
      const params: unknown[] = [id, stateAfter(event), stored.seq, stored.occurredAt];
      let extra = '';
      if (event.type === T.Created) {
        params.push(event.data.sizeBytes);
        extra = ', size_bytes = $5';
      } else if (event.type === T.Failed) {
        params.push(event.data.reason);
        extra = ', failure_reason = $5';
      }
      const result: [unknown[], number] = await tx.query(
        `UPDATE templates SET state = $2, version = $3, updated_at = $4${extra} WHERE id = $1`,
        params,
      );
      if (result[1] !== 1) throw new Error(`${stored.type} for template ${id} that the read model does not have`);
    },
  };
}

import { Aggregate, Naming } from '@wrenn/contracts';
import { isSandboxEventType, SandboxEvent, SandboxEventType as T, SandboxStatus } from '@wrenn/domain';
import { Projection, StoredEvent } from '@wrenn/eventlog';
import { EntityManager } from 'typeorm';

export const SANDBOX_PROJECTION = 'sandboxes';

/** The state each event leaves the row in (the decider's evolve, flattened for SQL). */
function stateAfter(event: SandboxEvent): string {
  switch (event.type) {
    case T.Requested: return SandboxStatus.Pending;
    case T.Scheduled: return SandboxStatus.Starting;
    case T.Started: return SandboxStatus.Running;
    case T.Failed: return SandboxStatus.Failed;
    case T.PauseRequested: return SandboxStatus.Pausing;
    case T.Paused: return SandboxStatus.Paused;
    case T.AutoPaused: return SandboxStatus.Paused;
    case T.PauseFailed: return SandboxStatus.Running;
    case T.ResumeRequested: return SandboxStatus.Resuming;
    case T.Resumed: return SandboxStatus.Running;
    case T.ResumeFailed: return SandboxStatus.Paused;
    case T.StopRequested: return SandboxStatus.Stopping;
    case T.Stopped: return SandboxStatus.Stopped;
    case T.Lost: return SandboxStatus.Lost;
  }
}

/**
 * The `sandboxes` read model. Timestamps come from the events' occurredAt, never from now(), so
 * a replay rebuilds byte-identical rows.
 */
export function sandboxProjection(naming: Naming): Projection {
  return {
    name: SANDBOX_PROJECTION,
    filterSubject: naming.aggregateWildcard(Aggregate.Sandbox),
    tables: ['sandboxes'],
    async apply(stored: StoredEvent, tx: EntityManager): Promise<void> {
      if (stored.version !== 1) throw new Error(`${stored.type} v${stored.version} is not understood by this projection`);
      if (!isSandboxEventType(stored.type)) throw new Error(`unknown sandbox event type ${stored.type}`);
      const event = { type: stored.type, data: stored.data } as SandboxEvent;
      const id = stored.aggregateId;
      if (event.type === T.Requested) {
        await tx.query(
          `INSERT INTO sandboxes (id, team_id, state, template, vcpus, memory_mb, timeout_sec, template_id, version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
          [id, event.data.teamId, stateAfter(event), event.data.template, event.data.vcpus, event.data.memoryMb, event.data.timeoutSec, event.data.templateId ?? null, stored.seq, stored.occurredAt],
        );
        return;
      }
      const sets: string[] = ['state = $2', 'version = $3', 'updated_at = $4'];
      const params: unknown[] = [id, stateAfter(event), stored.seq, stored.occurredAt];
      const set = (column: string, value: unknown) => {
        params.push(value);
        sets.push(`${column} = $${params.length}`);
      };
      switch (event.type) {
        case T.Scheduled: set('host_id', event.data.hostId); set('boot_id', event.data.bootId); break;
        case T.Started: set('host_id', event.data.hostId); set('failure_reason', null); break;
        case T.Failed: set('failure_reason', event.data.reason); break;
        case T.Lost: set('failure_reason', event.data.reason); break;
        case T.Paused: case T.AutoPaused: set('snapshot_ref', event.data.snapshotRef); set('snapshot_size_bytes', event.data.sizeBytes ?? null); break;
        case T.ResumeRequested: set('host_id', event.data.hostId); set('boot_id', event.data.bootId); break;
        // Running again: the snapshot became the sandbox, it no longer occupies storage of its own.
        case T.Resumed: set('host_id', event.data.hostId); set('snapshot_ref', null); set('snapshot_size_bytes', null); break;
        default: break;
      }
      const result: [unknown[], number] = await tx.query(`UPDATE sandboxes SET ${sets.join(', ')} WHERE id = $1`, params);
      if (result[1] !== 1) throw new Error(`${stored.type} for sandbox ${id} that the read model does not have`);
    },
  };
}

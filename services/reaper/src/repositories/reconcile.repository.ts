import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';
import { ProjectedSandbox } from '../reconcile';

export type ReconciledSandbox = ProjectedSandbox & { teamId: string };

export interface CreatingTemplate {
  id: string;
  teamId: string;
  state: string;
  /** Time since the template's last change, by the database's clock. */
  idleMs: number;
}

/**
 * The reaper's reads of the read models (its role may only read them). Idle times are computed
 * by PostgreSQL against `updated_at`, so the reaper's own clock never skews them.
 */
@Injectable()
export class ReconcileRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /** Every sandbox not yet stopped, by id. */
  async liveSandboxes(): Promise<Map<string, ReconciledSandbox>> {
    const rows: Array<{ id: string; state: string; host_id: string | null; boot_id: string | null; team_id: string; idle_ms: string; timeout_sec: number }> =
      await this.ds.query(
        `SELECT id, state, host_id, boot_id, team_id, timeout_sec, (extract(epoch FROM (now() - updated_at)) * 1000)::bigint AS idle_ms
         FROM sandboxes WHERE state <> 'deleted'`,
      );
    return new Map(
      rows.map((r) => [
        r.id,
        { id: r.id, state: r.state, hostId: r.host_id, bootId: r.boot_id, teamId: r.team_id, idleMs: Number(r.idle_ms), timeoutSec: r.timeout_sec },
      ]),
    );
  }

  /** Templates still being created (a crashed catalog may have abandoned them). */
  async creatingTemplates(): Promise<CreatingTemplate[]> {
    const rows: Array<{ id: string; team_id: string; state: string; idle_ms: string }> = await this.ds.query(
      `SELECT id, team_id, state, (extract(epoch FROM (now() - updated_at)) * 1000)::bigint AS idle_ms FROM templates WHERE state = 'creating'`,
    );
    return rows.map((r) => ({ id: r.id, teamId: r.team_id, state: r.state, idleMs: Number(r.idle_ms) }));
  }

  /** Whether the read model holds the sandbox as stopped. */
  async isDeleted(sandboxId: string): Promise<boolean> {
    const rows: unknown[] = await this.ds.query(`SELECT 1 FROM sandboxes WHERE id = $1 AND state = 'deleted'`, [sandboxId]);
    return rows.length > 0;
  }
}

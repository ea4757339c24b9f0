import { Inject, Injectable } from '@nestjs/common';
import { ApiKeyInfo, ApiKeyScope } from '@wrenn/contracts';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource, EntityManager } from 'typeorm';

interface ApiKeyRow {
  id: string;
  team_id: string;
  created_by: string;
  name: string;
  prefix: string;
  created_at: Date;
  scope: ApiKeyScope;
  expires_at: Date | null;
}

function toInfo(r: ApiKeyRow): ApiKeyInfo {
  return { id: r.id, teamId: r.team_id, createdBy: r.created_by, name: r.name, prefix: r.prefix, createdAt: r.created_at.toISOString(), scope: r.scope, expiresAt: r.expires_at ? r.expires_at.toISOString() : null };
}

/** The only code that touches api_keys. Keys are found by their SHA-256, never by the raw key. */
@Injectable()
export class ApiKeyRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  async insert(tx: EntityManager, key: { id: string; teamId: string; createdBy: string; name: string; prefix: string; hash: string; scope: ApiKeyScope; expiresAt: string | null }): Promise<ApiKeyInfo> {
    const rows: ApiKeyRow[] = await tx.query(
      `INSERT INTO api_keys (id, team_id, created_by, name, prefix, key_hash, scope, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       RETURNING id, team_id, created_by, name, prefix, created_at, scope, expires_at`,
      [key.id, key.teamId, key.createdBy, key.name, key.prefix, key.hash, key.scope, key.expiresAt],
    );
    return toInfo(rows[0]);
  }

  async listActive(teamId: string): Promise<ApiKeyInfo[]> {
    const rows: ApiKeyRow[] = await this.ds.query(
      `SELECT id, team_id, created_by, name, prefix, created_at, scope, expires_at FROM api_keys
       WHERE team_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`,
      [teamId],
    );
    return rows.map(toInfo);
  }

  /** Marks the team's key revoked; false when the team has no such active key. */
  async revoke(tx: EntityManager, teamId: string, keyId: string): Promise<boolean> {
    const rows = await tx.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND team_id = $2 AND revoked_at IS NULL RETURNING id', [keyId, teamId]);
    // TypeORM answers UPDATE … RETURNING as [rows, count].
    const returned = Array.isArray(rows[0]) ? rows[0] : rows;
    return returned.length === 1;
  }

  /**
   * The unrevoked key with this hash; `expired` and `expiresInMs` (null: never) are judged by
   * PostgreSQL's clock, the same for every replica.
   */
  async findActiveByHash(hash: string): Promise<{ keyId: string; teamId: string; scope: ApiKeyScope; expired: boolean; expiresInMs: number | null } | null> {
    const rows = await this.ds.query(
      `SELECT id, team_id, scope, (expires_at IS NOT NULL AND expires_at <= now()) AS expired,
              floor(extract(epoch FROM expires_at - now()) * 1000)::bigint AS expires_in_ms
       FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [hash],
    );
    const r = rows[0];
    return r ? { keyId: r.id, teamId: r.team_id, scope: r.scope, expired: r.expired, expiresInMs: r.expires_in_ms === null ? null : Number(r.expires_in_ms) } : null;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource, EntityManager } from 'typeorm';

export interface UserRecord {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: Date;
}

export interface MembershipRecord {
  teamId: string;
  name: string;
  role: string;
}

/** The only code that reads and writes users, teams and memberships. */
@Injectable()
export class IdentityRepository {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  /** Inserts the user; false when the email is taken (nothing written). */
  async insertUser(tx: EntityManager, user: { id: string; email: string; passwordHash: string }): Promise<boolean> {
    const rows = await tx.query(
      'INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING RETURNING id',
      [user.id, user.email, user.passwordHash],
    );
    return rows.length === 1;
  }

  async insertTeam(tx: EntityManager, team: { id: string; name: string }): Promise<void> {
    await tx.query('INSERT INTO teams (id, name) VALUES ($1, $2)', [team.id, team.name]);
  }

  async insertMembership(tx: EntityManager, m: { teamId: string; userId: string; role: string }): Promise<void> {
    await tx.query('INSERT INTO memberships (team_id, user_id, role) VALUES ($1, $2, $3)', [m.teamId, m.userId, m.role]);
  }

  async userByEmail(email: string): Promise<UserRecord | null> {
    const rows = await this.ds.query('SELECT id, email, password_hash, created_at FROM users WHERE email = $1', [email]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async userById(id: string): Promise<UserRecord | null> {
    const rows = await this.ds.query('SELECT id, email, password_hash, created_at FROM users WHERE id = $1', [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  /** The user's teams, oldest membership first (the first is the one a login acts for). */
  async memberships(userId: string): Promise<MembershipRecord[]> {
    const rows = await this.ds.query(
      `SELECT m.team_id, t.name, m.role FROM memberships m JOIN teams t ON t.id = m.team_id
       WHERE m.user_id = $1 ORDER BY m.created_at, m.team_id`,
      [userId],
    );
    return rows.map((r: { team_id: string; name: string; role: string }) => ({ teamId: r.team_id, name: r.name, role: r.role }));
  }

  async isMember(userId: string, teamId: string): Promise<boolean> {
    const rows = await this.ds.query('SELECT 1 FROM memberships WHERE user_id = $1 AND team_id = $2', [userId, teamId]);
    return rows.length === 1;
  }
}

function toUser(r: { id: string; email: string; password_hash: string; created_at: Date }): UserRecord {
  return { id: r.id, email: r.email, passwordHash: r.password_hash, createdAt: r.created_at };
}

import { Client } from 'pg';

/**
 * The statements that manage services' PostgreSQL roles and their grants, on one connection of
 * the administrative role. Role names reach SQL only through `quote_ident`/`format('%I')` or
 * after the caller checked them against its name pattern; what to grant is decided in roles.ts.
 */
export class ServiceRoleRepository {
  constructor(private readonly client: Client) {}

  /** `work` in one transaction, rolled back when it throws. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.client.query('BEGIN');
    try {
      const result = await work();
      await this.client.query('COMMIT');
      return result;
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Roles are shared by the whole cluster: serialises with other databases' setups (until the transaction ends). */
  async lockRoleSetup(): Promise<void> {
    await this.client.query('SELECT pg_advisory_xact_lock(7344222)');
  }

  async publicTables(): Promise<string[]> {
    return (await this.client.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r: { tablename: string }) => r.tablename);
  }

  async currentUser(): Promise<string> {
    return (await this.client.query('SELECT current_user AS name')).rows[0].name as string;
  }

  /** Whether the role exists, and whether it is a superuser. */
  async role(user: string): Promise<{ exists: boolean; superuser: boolean }> {
    const found = await this.client.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [user]);
    return { exists: found.rowCount! > 0, superuser: Boolean(found.rows[0]?.rolsuper) };
  }

  /** Creates the role, or brings an existing one to these attributes: login, password, nothing else. */
  async upsertLoginRole(user: string, exists: boolean, password: string | undefined): Promise<void> {
    const attributes = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
    const statement = password
      ? `SELECT format('${exists ? 'ALTER' : 'CREATE'} ROLE %I ${attributes} PASSWORD %L', $1::text, $2::text) AS sql`
      : `SELECT format('${exists ? 'ALTER' : 'CREATE'} ROLE %I ${attributes}', $1::text) AS sql`;
    const { rows } = await this.client.query(statement, password ? [user, password] : [user]);
    await this.client.query(rows[0].sql);
  }

  /** Sets the role's grants on this database's public tables to exactly `grants`, revoking anything else. */
  async setGrants(user: string, grants: Record<string, readonly string[]>): Promise<void> {
    const quoted = (await this.client.query('SELECT quote_ident($1) AS q', [user])).rows[0].q as string;
    await this.client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${quoted}`);
    await this.client.query(`REVOKE CREATE ON SCHEMA public FROM ${quoted}`);
    await this.client.query(`GRANT USAGE ON SCHEMA public TO ${quoted}`);
    for (const [table, privileges] of Object.entries(grants)) {
      await this.client.query(`GRANT ${privileges.join(', ')} ON TABLE ${table} TO ${quoted}`);
    }
  }

  /** Drops the role and what it owns here; false when it is still granted something in another database. `user` must be a checked name. */
  async drop(user: string): Promise<boolean> {
    await this.client.query(`DROP OWNED BY ${user}`);
    try {
      await this.client.query(`DROP ROLE ${user}`);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code !== '2BP01') throw error;
      return false;
    }
  }

  async usersWithPrefix(prefix: string): Promise<string[]> {
    return (await this.client.query(`SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)`, [`${prefix}_`])).rows.map((r: { rolname: string }) => r.rolname);
  }
}

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase } from './data-source';
import { setUpDatabase } from './database-setup';
import { ADMIN_ONLY_TABLES, DATABASE_SERVICES, DatabaseService, dropRolesWithPrefix, freshServiceRoles, roleUrl, SERVICE_GRANTS, ServiceRole } from './roles';

const PG_BASE = process.env.WRENN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Each service's role on the real PostgreSQL: what its service does works, what it must not do
 * (DDL, other services' tables, writes to read-only data) is refused by the server. The roles
 * carry a unique prefix and are dropped afterwards; the database is this file's own.
 */
describe('service roles (real PostgreSQL)', () => {
  const suffix = randomBytes(4).toString('hex');
  const prefix = `wrenn_rolestest_${suffix}`;
  const adminUrl = `${PG_BASE}/wrenn_rolestest_${suffix}`;
  const roles = freshServiceRoles(prefix);
  const clients: Client[] = [];
  const as: Partial<Record<DatabaseService, Client>> = {};

  const role = (service: DatabaseService) => roles.find((r) => r.service === service) as ServiceRole;
  const admin = async (sql: string) => {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  };

  before(async () => {
    await ensureDatabase(adminUrl);
    await setUpDatabase(adminUrl, roles);
    for (const service of DATABASE_SERVICES) {
      const client = new Client({ connectionString: roleUrl(adminUrl, role(service)) });
      await client.connect();
      clients.push(client);
      as[service] = client;
    }
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    await dropDatabase(adminUrl);
    await dropRolesWithPrefix(`${PG_BASE}/postgres`, prefix);
    const left = await new Client({ connectionString: `${PG_BASE}/postgres` });
    await left.connect();
    const { rowCount } = await left.query('SELECT 1 FROM pg_roles WHERE starts_with(rolname, $1)', [prefix]);
    await left.end();
    assert.equal(rowCount, 0, 'test roles left in the cluster');
  });

  /** Runs `sql` as the service inside a transaction that is rolled back: allowed, or the server's error code. */
  async function attempt(service: DatabaseService, sql: string): Promise<'ok' | string> {
    const c = as[service]!;
    await c.query('BEGIN');
    try {
      await c.query(sql);
      return 'ok';
    } catch (error) {
      return (error as { code?: string }).code ?? 'error';
    } finally {
      await c.query('ROLLBACK');
    }
  }
  const allowed = async (service: DatabaseService, sql: string) => assert.equal(await attempt(service, sql), 'ok', `${service}: ${sql}`);
  const refused = async (service: DatabaseService, sql: string) => assert.equal(await attempt(service, sql), INSUFFICIENT_PRIVILEGE, `${service} may: ${sql}`);

  it('connects each service as its own role, which is no superuser and owns nothing', async () => {
    for (const service of DATABASE_SERVICES) {
      const { rows } = await as[service]!.query(`SELECT current_user AS u, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user`);
      assert.deepEqual(rows[0], { u: role(service).user, rolsuper: false, rolcreaterole: false, rolcreatedb: false });
      const owned = await as[service]!.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tableowner = current_user`);
      assert.equal(owned.rows[0].n, 0, `${service} owns tables`);
    }
  });

  it('no service can drop, alter or create a table', async () => {
    for (const service of DATABASE_SERVICES) {
      // Dropping a table needs ownership; the server answers 42501 (must be owner).
      await refused(service, 'DROP TABLE sandboxes');
      await refused(service, 'DROP TABLE users');
      await refused(service, 'ALTER TABLE sandboxes ADD COLUMN x int');
      await refused(service, 'CREATE TABLE mine (id int)');
      await refused(service, 'DELETE FROM schema_migrations WHERE false');
    }
  });

  it('the gateway reads projections and the JWT key, and writes only its request-rate counters', async () => {
    for (const table of ['sandboxes', 'templates', 'audit_log', 'usage_intervals', 'usage_sandboxes', 'projection_checkpoints']) await allowed('gateway', `SELECT * FROM ${table} LIMIT 1`);
    const key = await as.gateway!.query(`SELECT value FROM platform_secrets WHERE name = 'jwt_hs256'`);
    assert.ok(key.rows[0]?.value.length >= 32, 'the migrations generated the JWT key');
    await allowed('gateway', 'LISTEN wrenn_projection_checkpoint');
    await refused('gateway', `UPDATE sandboxes SET state = 'deleted' WHERE true`);
    await refused('gateway', 'DELETE FROM templates WHERE true');
    await refused('gateway', 'INSERT INTO sandboxes SELECT * FROM sandboxes');
    await refused('gateway', 'TRUNCATE sandboxes');
    await refused('gateway', `INSERT INTO platform_secrets (name, value) VALUES ('x', 'y')`);
    await refused('gateway', 'SELECT * FROM users');
    await refused('gateway', 'SELECT * FROM api_keys');
    await allowed('gateway', `INSERT INTO request_rate_windows (bucket, window_sec, win, current, previous) VALUES ('k', 60, 1, 1, 0)`);
    // Not the auth service's: a gateway cannot lift a login lockout.
    await refused('gateway', `DELETE FROM rate_windows WHERE true`);
  });

  it('auth writes its identity tables and nothing of the read models', async () => {
    await allowed('auth', `INSERT INTO users (id, email, password_hash) VALUES ('u_roles', 'roles@example.com', 'h')`);
    for (const table of ['users', 'teams', 'memberships', 'api_keys', 'rate_windows', 'identity_outbox', 'platform_secrets']) {
      await allowed('auth', `UPDATE ${table} SET ${table === 'rate_windows' ? 'bucket = bucket' : table === 'memberships' ? 'role = role' : table === 'platform_secrets' ? 'value = value' : 'id = id'} WHERE false`);
      await allowed('auth', `DELETE FROM ${table} WHERE false`);
    }
    await allowed('auth', `INSERT INTO platform_secrets (name, value) VALUES ('jwt_hs256', 'x') ON CONFLICT (name) DO NOTHING`);
    await refused('auth', 'SELECT * FROM sandboxes');
    await refused('auth', 'DELETE FROM audit_log WHERE true');
    await refused('auth', 'TRUNCATE users');
  });

  it('the projector writes and rebuilds the read models, and cannot touch identity', async () => {
    for (const table of ['sandboxes', 'templates', 'audit_log', 'usage_intervals', 'usage_sandboxes', 'projection_checkpoints', 'dead_letters']) {
      await allowed('projector', `INSERT INTO ${table} SELECT * FROM ${table} WHERE false`);
      await allowed('projector', `DELETE FROM ${table} WHERE false`);
    }
    await allowed('projector', `UPDATE projection_checkpoints SET position = position WHERE false`);
    await allowed('projector', 'TRUNCATE sandboxes, usage_sandboxes, usage_intervals');
    await allowed('projector', `SELECT pg_notify('wrenn_projection_checkpoint', 'x')`);
    await refused('projector', 'SELECT * FROM users');
    await refused('projector', 'SELECT * FROM platform_secrets');
  });

  it('the scheduler reads templates and writes no read model', async () => {
    await allowed('sandbox-scheduler', 'SELECT id FROM templates');
    for (const table of ['sandboxes', 'templates', 'audit_log', 'usage_intervals', 'projection_checkpoints']) {
      await refused('sandbox-scheduler', `DELETE FROM ${table} WHERE false`);
    }
    await refused('sandbox-scheduler', 'SELECT * FROM users');
  });

  it('the snapshot catalog and the reaper read what they decide on, and write nothing', async () => {
    for (const service of ['snapshot-catalog', 'reaper'] as const) {
      await allowed(service, `SELECT id FROM sandboxes WHERE state <> 'deleted'`);
      await allowed(service, 'SELECT id FROM templates');
      await refused(service, `UPDATE sandboxes SET state = 'deleted' WHERE true`);
      await refused(service, 'SELECT * FROM api_keys');
    }
  });

  it('every table of the schema has an owner in the grants, and nothing else is granted', async () => {
    const { rows } = await admin(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
    const tables = rows.map((r: { tablename: string }) => r.tablename).filter((t: string) => !ADMIN_ONLY_TABLES.includes(t)).sort();
    const granted = [...new Set(Object.values(SERVICE_GRANTS).flatMap((g) => Object.keys(g)))].sort();
    assert.deepEqual(granted, tables, 'a table without a decided grant, or a grant for a table that does not exist');
  });

  it('a second setup is a no-op that also takes back a grant made by hand', async () => {
    await admin(`GRANT DELETE ON users TO ${role('gateway').user}`);
    await allowed('gateway', 'DELETE FROM users WHERE false');
    await setUpDatabase(adminUrl, roles);
    await refused('gateway', 'DELETE FROM users WHERE false');
    await allowed('gateway', 'SELECT * FROM sandboxes LIMIT 1');
  });

  it('refuses to turn the administrator or a superuser into a service role', async () => {
    await assert.rejects(setUpDatabase(adminUrl, [{ service: 'gateway', user: 'postgres', password: '' }]), /superuser or the migrating role/);
    const { rows } = await admin(`SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'`);
    assert.equal(rows[0].rolsuper, true);
  });
});

import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ServiceRoleRepository } from './repositories/service-role.repository';

/**
 * PostgreSQL roles, one per service, each with only the grants its service needs. The schema is
 * owned by the administrative role that runs the migrations (DATABASE_URL); services log in with
 * their own role and own nothing, so none of them can DROP or ALTER a table.
 */

/** Read models the event log feeds (written only by the projector). */
const PROJECTIONS = ['sandboxes', 'templates', 'audit_log', 'usage_intervals', 'usage_sandboxes'] as const;
/** The projector's own bookkeeping. */
const PROJECTION_STATE = ['projection_checkpoints', 'dead_letters'] as const;
/** Users, teams, keys and the auth service's outbox: the auth service's alone. */
const IDENTITY = ['users', 'teams', 'memberships', 'api_keys', 'rate_windows', 'identity_outbox', 'platform_secrets'] as const;

type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';
const READ: Privilege[] = ['SELECT'];
const WRITE: Privilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

/** The services that use PostgreSQL. */
export const DATABASE_SERVICES = ['gateway', 'auth', 'sandbox-scheduler', 'projector', 'snapshot-catalog', 'reaper'] as const;
export type DatabaseService = (typeof DATABASE_SERVICES)[number];

/**
 * What each service's role may do, table by table. Every table of the schema but the migrations'
 * own bookkeeping appears here (a test holds the schema to it), so a new table gets no grant
 * until someone decides who may touch it.
 */
export const SERVICE_GRANTS: Record<DatabaseService, Record<string, Privilege[]>> = {
  // Reads projections (and their checkpoints, for read-your-writes) and the JWT key to check
  // user tokens. Writes only its own request-rate counters.
  gateway: {
    ...Object.fromEntries([...PROJECTIONS, 'projection_checkpoints'].map((t) => [t, READ])),
    platform_secrets: READ,
    request_rate_windows: WRITE,
  },
  auth: Object.fromEntries(IDENTITY.map((t) => [t, WRITE])),
  // Looks up a template by name to create a sandbox from it.
  'sandbox-scheduler': { templates: READ },
  // The projection runners: write the read models (TRUNCATE for a rebuild), never DDL.
  projector: Object.fromEntries([...PROJECTIONS, ...PROJECTION_STATE].map((t) => [t, [...WRITE, 'TRUNCATE' as Privilege]])),
  'snapshot-catalog': { templates: READ, sandboxes: READ },
  reaper: { sandboxes: READ, templates: READ, projection_checkpoints: READ },
};

/** Tables no service role may touch: the migrations' own. */
export const ADMIN_ONLY_TABLES = ['schema_migrations'];

export interface ServiceRole {
  service: DatabaseService;
  user: string;
  password: string;
}

/** The env variable holding a service's own database URL, e.g. WRENN_DATABASE_URL_SANDBOX_SCHEDULER. */
export function serviceDatabaseUrlVar(service: string): string {
  return `WRENN_DATABASE_URL_${service.toUpperCase().replace(/-/g, '_')}`;
}

/** A service's role name: `<prefix>_<service>` with dashes as underscores. */
export function roleName(prefix: string, service: DatabaseService): string {
  return `${prefix}_${service.replace(/-/g, '_')}`;
}

/** The roles of a deployment under `prefix`, with fresh passwords (for the first start). */
export function freshServiceRoles(prefix: string): ServiceRole[] {
  return DATABASE_SERVICES.map((service) => ({ service, user: roleName(prefix, service), password: randomBytes(24).toString('base64url') }));
}

/** The URL a service connects with: the admin URL with the service's user and password. */
export function roleUrl(adminUrl: string, role: ServiceRole): string {
  const url = new URL(adminUrl);
  url.username = encodeURIComponent(role.user);
  url.password = encodeURIComponent(role.password);
  return url.toString();
}

/** The role in a service URL (its user and password). */
export function roleOfUrl(service: DatabaseService, url: string): ServiceRole {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  if (!user) throw new Error(`${serviceDatabaseUrlVar(service)} names no user`);
  return { service, user, password: decodeURIComponent(parsed.password) };
}

const ROLE_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Creates each role (or brings it up to date: login, password, no other attributes) and sets its
 * grants on this database to exactly SERVICE_GRANTS, revoking anything else. Idempotent: run after
 * every migration. Runs as the administrative role, in one transaction.
 */
export async function ensureServiceRoles(adminUrl: string, roles: ServiceRole[]): Promise<void> {
  const client = new Client({ connectionString: adminUrl, application_name: 'wrenn-roles' });
  await client.connect();
  const db = new ServiceRoleRepository(client);
  try {
    await db.transaction(async () => {
      await db.lockRoleSetup();
      const tables = await db.publicTables();
      const admin = await db.currentUser();
      for (const role of roles) {
        if (!ROLE_RE.test(role.user)) throw new Error(`invalid role name "${role.user}"`);
        const found = await db.role(role.user);
        // A service URL that names the administrator (or any superuser) is a configuration mistake:
        // demoting that role would lock the operator out.
        if (role.user === admin || found.superuser) throw new Error(`the ${role.service} role "${role.user}" is a superuser or the migrating role: give the service a role of its own`);
        await db.upsertLoginRole(role.user, found.exists, role.password || undefined);
        // Tables a later migration adds get their grants when this runs after it.
        await db.setGrants(role.user, Object.fromEntries(Object.entries(SERVICE_GRANTS[role.service]).filter(([table]) => tables.includes(table))));
      }
    });
  } finally {
    await client.end();
  }
}

/** Removes roles from the cluster (tests; a decommissioned deployment). Their grants in `databaseUrl` go first. */
export async function dropServiceRoles(databaseUrl: string, users: string[]): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const db = new ServiceRoleRepository(client);
  try {
    for (const user of users) {
      if (!ROLE_RE.test(user)) throw new Error(`invalid role name "${user}"`);
      if (!(await db.role(user)).exists) continue;
      // Still granted something in another database (false): left to that database's cleanup.
      await db.drop(user);
    }
  } finally {
    await client.end();
  }
}

/** Drops every role whose name starts with `prefix_` (a test run's, or a removed deployment's). */
export async function dropRolesWithPrefix(databaseUrl: string, prefix: string): Promise<void> {
  if (!ROLE_RE.test(prefix)) throw new Error(`invalid role prefix "${prefix}"`);
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  let users: string[];
  try {
    users = await new ServiceRoleRepository(client).usersWithPrefix(prefix);
  } finally {
    await client.end();
  }
  await dropServiceRoles(databaseUrl, users);
}

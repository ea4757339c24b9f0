import { loadConfig, serviceDatabaseUrls, variable } from '@wrenn/config';
import { DATABASE_SERVICES, DatabaseService, freshServiceRoles, roleOfUrl, roleUrl, serviceDatabaseUrlVar, ServiceRole, setUpDatabase } from '@wrenn/db';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Where `wrenn start` keeps the passwords of the roles it made (0600, under the state dir). */
export function rolesFile(stateDir: string): string {
  return join(stateDir, 'secrets', 'database-roles.json');
}

/** The roles named by WRENN_DATABASE_URL_<SERVICE>, for each service that has one. */
function configuredRoles(): ServiceRole[] {
  const urls = serviceDatabaseUrls();
  return DATABASE_SERVICES.filter((s) => urls[s]).map((s) => roleOfUrl(s, urls[s]));
}

/**
 * `wrenn db setup`: with DATABASE_URL the administrative role, creates the database, migrates,
 * and creates (or updates) the role of every service whose WRENN_DATABASE_URL_<SERVICE> is set,
 * with that URL's user and password. What compose's one-shot `migrate` container and the
 * control plane's unit run before the services.
 */
export async function setUp(): Promise<void> {
  const config = loadConfig();
  const roles = configuredRoles();
  const applied = await setUpDatabase(config.databaseUrl, roles);
  console.log(JSON.stringify({ applied, roles: roles.map((r) => ({ service: r.service, user: r.user })) }));
}

/**
 * `wrenn start`'s default: unless the operator configured service URLs (then the database was set
 * up by `wrenn db setup`, with the administrative role this process does not hold) or set
 * WRENN_DB_ROLES=off, every service gets a role of its own, with a password generated once into
 * the state dir. The database is set up with DATABASE_URL, and each service's URL is put in this
 * process's environment, where its config finds it.
 */
export async function ownRolesForStart(services: readonly string[]): Promise<void> {
  if (variable('WRENN_DB_ROLES') === 'off') return;
  if (!services.some((s) => (DATABASE_SERVICES as readonly string[]).includes(s))) return;
  if (configuredRoles().length > 0) return;
  const config = loadConfig();
  const prefix = config.namespace ? `wrenn_${config.namespace.replace(/-/g, '_')}` : 'wrenn';
  const roles = await storedRoles(rolesFile(config.host.stateDir), prefix);
  await setUpDatabase(config.databaseUrl, roles);
  for (const role of roles) process.env[serviceDatabaseUrlVar(role.service)] = roleUrl(config.databaseUrl, role);
}

/** The roles kept in `file`, or fresh ones written there first (0600 in a 0700 directory). */
async function storedRoles(file: string, prefix: string): Promise<ServiceRole[]> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as ServiceRole[];
    const complete = DATABASE_SERVICES.every((s) => stored.some((r) => r.service === s && r.user && r.password));
    if (complete) return stored.filter((r) => (DATABASE_SERVICES as readonly DatabaseService[]).includes(r.service));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const roles = freshServiceRoles(prefix);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await chmod(dirname(file), 0o700);
  await writeFile(`${file}.tmp`, JSON.stringify(roles, null, 2), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return roles;
}

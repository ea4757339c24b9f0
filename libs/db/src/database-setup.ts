import { createDataSource, ensureDatabase, migrate } from './data-source';
import { ensureServiceRoles, ServiceRole } from './roles';

/**
 * Everything the administrative role does before services start: the database, the migrations,
 * then each service's role and grants. Idempotent; safe to run on every start and by several
 * processes at once (the migrations and the role setup each take an advisory lock).
 */
export async function setUpDatabase(adminUrl: string, roles: ServiceRole[]): Promise<string[]> {
  await ensureDatabase(adminUrl);
  const ds = createDataSource(adminUrl, 2);
  await ds.initialize();
  try {
    const applied = await migrate(ds);
    await ensureServiceRoles(adminUrl, roles);
    return applied;
  } finally {
    await ds.destroy();
  }
}

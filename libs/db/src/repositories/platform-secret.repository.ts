import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';

/**
 * The only code that reads and writes platform_secrets: secrets the platform generates for
 * itself the first time one is needed and keeps in PostgreSQL, so every replica of every service
 * (and a restarted embedded instance) agrees on it without configuration.
 */
export class PlatformSecretRepository {
  constructor(private readonly ds: DataSource) {}

  /** The secret `name`, generated now if there is none. Concurrent first calls race on the primary key; all read the winner. */
  async generated(name: string, bytes = 32): Promise<string> {
    await this.ds.query('INSERT INTO platform_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
      name,
      randomBytes(bytes).toString('base64url'),
    ]);
    return (await this.stored(name))!;
  }

  /**
   * The secret as stored, for services that may only read it (the gateway's role): the
   * migrations put every generated secret in place, so it is there before any service starts.
   */
  async stored(name: string): Promise<string | undefined> {
    const rows: Array<{ value: string }> = await this.ds.query('SELECT value FROM platform_secrets WHERE name = $1', [name]);
    return rows[0]?.value;
  }
}

/** A platform secret that must already be stored (read-only roles). */
export async function storedPlatformSecret(ds: DataSource, name: string): Promise<string> {
  const value = await new PlatformSecretRepository(ds).stored(name);
  if (value === undefined) throw new Error(`platform secret ${name} is missing: run the migrations`);
  return value;
}

/** A platform secret, generated and kept the first time it is needed. */
export function platformSecret(ds: DataSource, name: string, bytes = 32): Promise<string> {
  return new PlatformSecretRepository(ds).generated(name, bytes);
}

/** The key user tokens are checked with, read-only: configured, or the one kept in PostgreSQL. */
export function jwtVerifySecret(ds: DataSource, configured: string | undefined): Promise<string> {
  return configured ? Promise.resolve(configured) : storedPlatformSecret(ds, 'jwt_hs256');
}

/** The key user tokens are signed with: configured, or generated once and kept. */
export function jwtSecret(ds: DataSource, configured: string | undefined): Promise<string> {
  return configured ? Promise.resolve(configured) : platformSecret(ds, 'jwt_hs256');
}

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MigrationInterface, QueryRunner } from 'typeorm';

/** The repo's migrations/ directory: raw SQL files named <13-digit-ms>-<name>.up.sql / .down.sql. */
export const MIGRATIONS_DIR = resolve(__dirname, '../../../migrations');

const FILE_RE = /^(\d{13})-([a-z0-9-]+)\.up\.sql$/;

/**
 * Turns each raw-SQL pair into a TypeORM migration class, so TypeORM keeps the bookkeeping
 * (migrations table, order, transaction) while the SQL stays reviewable as plain files.
 */
export function sqlMigrations(dir = MIGRATIONS_DIR): Array<new () => MigrationInterface> {
  return readdirSync(dir)
    .filter((file) => FILE_RE.test(file))
    .sort()
    .map((file) => {
      const [, timestamp, name] = FILE_RE.exec(file)!;
      const up = readFileSync(join(dir, file), 'utf8');
      const down = readFileSync(join(dir, file.replace(/\.up\.sql$/, '.down.sql')), 'utf8');
      // TypeORM reads the timestamp from the end of the class name.
      const className = `${name.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase())}${timestamp}`;
      const migration = class implements MigrationInterface {
        name = className;
        async up(runner: QueryRunner): Promise<void> {
          await runner.query(up);
        }
        async down(runner: QueryRunner): Promise<void> {
          await runner.query(down);
        }
      };
      Object.defineProperty(migration, 'name', { value: className });
      return migration;
    });
}

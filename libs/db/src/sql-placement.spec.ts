import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchingLines, platformSources, REPO_ROOT } from '@wrenn/config';

/**
 * Every SQL statement a service runs lives in a repository class (`*.repository.ts`), so what
 * each service asks of PostgreSQL is in one place per concern. Besides repositories, raw SQL is
 * allowed only in the migration plumbing (the migrations runner, the migration lock, creating and
 * dropping a database) and in the event log's projections, which are their own
 * repository-like code (libs/eventlog, libs/projections). Tests are not scanned.
 */
const ALLOWED = [
  /\.repository\.ts$/,
  /^libs\/db\/src\/(migrations|data-source)\.ts$/,
  /^libs\/eventlog\/src\//,
  /^libs\/projections\/src\//,
];

/** A line that runs a statement through TypeORM or pg: `.query(`. */
export function runsSql(line: string): boolean {
  const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
  return /\.query\s*(<[^>]*>)?\s*\(/.test(code);
}

describe('where SQL lives', () => {
  it('tells a statement from a comment', () => {
    assert.equal(runsSql("await this.ds.query('SELECT 1');"), true);
    assert.equal(runsSql('const rows = await tx.query<Row>(`SELECT * FROM x`, []);'), true);
    assert.equal(runsSql('// this.ds.query(...) moved to the repository'), false);
    assert.equal(runsSql(' * Runs ds.query( in a transaction'), false);
  });

  it('is in repository classes (and the allowed database plumbing and projections) only', () => {
    const sources = platformSources(REPO_ROOT);
    assert.ok(sources.includes('services/reaper/src/reaper.service.ts'), 'the scan sees the sources');
    const offenders = sources.filter((f) => !ALLOWED.some((r) => r.test(f))).flatMap((f) => matchingLines(REPO_ROOT, f, runsSql));
    assert.deepEqual(offenders, [], 'move the statement into a repository class (a *.repository.ts file) and call that');
  });
});

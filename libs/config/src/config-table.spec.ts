import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_TABLE_END, CONFIG_TABLE_START, renderConfigTable, withConfigTable } from './config-table';
import { REPO_ROOT } from './source-scan';
import { VARIABLES } from './variables';

describe("the README's configuration table", () => {
  it('is the one the schema renders (run `npm run build && npm run docs:config` when this fails)', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    assert.equal(readme, withConfigTable(readme));
  });

  it('has a row for every variable, with its default', () => {
    const table = renderConfigTable();
    for (const name of Object.keys(VARIABLES)) assert.match(table, new RegExp(`^\\| \`${name}\` \\|`, 'm'), name);
    assert.match(table, /^\| `PORT` \| `8080` \| a non-negative integer \| gateway \|/m);
    assert.match(table, /^\| `WRENN_DATABASE_URL_<SERVICE>` \|/m);
  });

  it('replaces only what is between the markers', () => {
    const doc = `before\n${CONFIG_TABLE_START}\nold table\n${CONFIG_TABLE_END}\nafter\n`;
    const updated = withConfigTable(doc);
    assert.ok(updated.startsWith(`before\n${CONFIG_TABLE_START}\n| variable |`) && updated.endsWith(`\n${CONFIG_TABLE_END}\nafter\n`));
    assert.ok(!updated.includes('old table'));
    assert.throws(() => withConfigTable('no markers'), /lacks the markers/);
  });
});

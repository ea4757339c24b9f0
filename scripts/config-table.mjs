#!/usr/bin/env node
// Rewrites the README's configuration table from the variables @wrenn/config parses
// (libs/config/src/variables.ts). Run after a build: `npm run docs:config`.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { withConfigTable } = createRequire(import.meta.url)(join(root, 'libs/config/dist/index.js'));
const path = join(root, 'README.md');
const before = readFileSync(path, 'utf8');
const after = withConfigTable(before);
if (after === before) console.log('README.md: the configuration table is up to date');
else {
  writeFileSync(path, after);
  console.log('README.md: configuration table rewritten');
}

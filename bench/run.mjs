#!/usr/bin/env node
// Runs every benchmark under bench/ in turn (each prints its own numbers).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// The userfaultfd benchmark drives the test-only guest addon, which `npm run build` leaves out.
spawnSync(process.execPath, [join(here, '..', 'scripts/build-native.mjs'), '--test-guest'], { stdio: 'inherit' });
const only = process.argv[2];
for (const file of readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs').sort()) {
  if (only && !file.includes(only)) continue;
  console.log(`\n== ${file}`);
  const r = spawnSync(process.execPath, [join(here, file)], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}

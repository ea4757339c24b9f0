#!/usr/bin/env node
// `npm start`: brings a fresh clone up. Installs what is missing (npm ci, build, host packages),
// finds PostgreSQL or starts it (scripts/host-setup.mjs), starts its own authenticated NATS
// (scripts/secured-nats.mjs), then runs
// every service in one process (or one with --service NAME). Plain Node on purpose: it runs before dependencies exist.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setUpHost } from './host-setup.mjs';
import { ensurePlatformNats } from './secured-nats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => console.log(`[wrenn] ${msg}`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

function installDependencies() {
  const stamp = join(root, 'node_modules/.package-lock.json');
  if (!existsSync(stamp) || statSync(join(root, 'package-lock.json')).mtimeMs > statSync(stamp).mtimeMs) {
    say('installing dependencies (npm ci)');
    run('npm', ['ci', '--no-audit', '--no-fund']);
  }
  say('building');
  run('npm', ['run', 'build', '--silent']);
}

try {
  installDependencies();
  // Host packages, NATS and PostgreSQL: the same check npm test and CI make (scripts/host-setup.mjs).
  const { postgres } = await setUpHost('start', { openNats: false });
  if (postgres.roleUrl && !process.env.DATABASE_URL) process.env.DATABASE_URL = `${postgres.roleUrl}/wrenn`;
  // NATS with auth on by default: its own server and a creds file per service (scripts/secured-nats.mjs).
  await ensurePlatformNats();
} catch (error) {
  console.error(`[wrenn] ${error.message}`);
  process.exit(1);
}
const child = spawn(process.execPath, [join(root, 'tools/cli/dist/main.js'), 'start', ...process.argv.slice(2)], { stdio: 'inherit', env: process.env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

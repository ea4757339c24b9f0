#!/usr/bin/env node
// `npm start`: brings a fresh clone up. Installs what is missing (npm ci, build, host tools),
// finds NATS and PostgreSQL or starts local ones, then runs every service in one process
// (or one with --service NAME). Plain Node on purpose: it runs before dependencies exist.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isRoot = process.getuid?.() === 0;
const stateDir = process.env.WRENN_STATE_DIR ?? '/var/lib/wrenn';
const say = (msg) => console.log(`[wrenn] ${msg}`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

function reachable(host, port, timeoutMs = 800) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
async function waitFor(host, port, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up on ${host}:${port}`);
}
const isLoopback = (host) => ['127.0.0.1', 'localhost', '::1'].includes(host);

let aptUpdated = false;
function aptInstall(...packages) {
  if (!isRoot) throw new Error(`missing ${packages.join(', ')}: install them (needs root) and run again`);
  if (!aptUpdated) { run('apt-get', ['update', '-qq']); aptUpdated = true; }
  run('apt-get', ['install', '-y', '-qq', ...packages], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
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

// Both runtimes need them: slots are netns + iptables, images start from debootstrap (the
// Firecracker guest image is made from the base image), tini is the sandbox's PID 1.
function ensureHostTools() {
  const tools = [['debootstrap', 'debootstrap'], ['tini', 'tini'], ['nsenter', 'util-linux'], ['ip', 'iproute2'], ['iptables', 'iptables']];
  const missing = tools.filter(([bin]) => !has(bin) && !existsSync(`/usr/bin/${bin}`) && !existsSync(`/usr/sbin/${bin}`));
  if (missing.length) {
    say(`installing host tools: ${missing.map(([, p]) => p).join(', ')}`);
    aptInstall(...missing.map(([, p]) => p));
  }
}

async function ensureNats() {
  const url = new URL(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
  const port = Number(url.port || 4222);
  if (await reachable(url.hostname, port)) return;
  if (!isLoopback(url.hostname)) throw new Error(`NATS at ${url} is not reachable`);
  if (!has('nats-server')) {
    say('installing nats-server');
    aptInstall('nats-server');
  }
  const dir = join(stateDir, 'nats');
  mkdirSync(dir, { recursive: true });
  say(`starting nats-server with JetStream on ${url.hostname}:${port} (data in ${dir})`);
  const log = openSync(join(dir, 'nats-server.log'), 'a');
  spawn('nats-server', ['-a', url.hostname, '-p', String(port), '-js', '-sd', dir], { detached: true, stdio: ['ignore', log, log] }).unref();
  await waitFor(url.hostname, port, 'nats-server');
}

async function ensurePostgres() {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/wrenn');
  const port = Number(url.port || 5432);
  if (await reachable(url.hostname, port)) return;
  if (!isLoopback(url.hostname)) throw new Error(`PostgreSQL at ${url.hostname}:${port} is not reachable`);
  if (!existsSync('/usr/lib/postgresql')) {
    say('installing postgresql');
    aptInstall('postgresql');
  }
  const version = execFileSync('ls', ['/usr/lib/postgresql']).toString().trim().split('\n').sort().pop();
  const hasCluster = existsSync(`/etc/postgresql/${version}/main`);
  say(`starting PostgreSQL ${version}`);
  if (hasCluster) run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
  else run('pg_createcluster', ['--port', String(port), '--start', version, 'main']);
  await waitFor(url.hostname, port, 'PostgreSQL');
  // Debian's cluster asks for a password over TCP: give Wrenn a role of its own.
  const sql = `DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='wrenn') THEN CREATE ROLE wrenn LOGIN CREATEDB PASSWORD 'wrenn'; END IF; END$$;`;
  run('runuser', ['-u', 'postgres', '--', 'psql', '-q', '-p', String(port), '-c', sql], { cwd: '/' });
  if (!process.env.DATABASE_URL) process.env.DATABASE_URL = `postgres://wrenn:wrenn@${url.hostname}:${port}/wrenn`;
}

try {
  installDependencies();
  ensureHostTools();
  await ensureNats();
  await ensurePostgres();
} catch (error) {
  console.error(`[wrenn] ${error.message}`);
  process.exit(1);
}
const child = spawn(process.execPath, [join(root, 'tools/cli/dist/main.js'), 'start', ...process.argv.slice(2)], { stdio: 'inherit', env: process.env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

#!/usr/bin/env node
// What a machine needs to run Wrenn and its test suites, in one place: the host packages
// (Debian's apt) and the platform's own services on loopback (PostgreSQL, NATS with JetStream).
// Used by `npm start` (scripts/start.mjs), `npm test` (scripts/test.mjs) and CI (.ci/run), so
// the three behave the same on a fresh machine. Plain Node on purpose: it runs before
// dependencies exist.
//
//   node scripts/host-setup.mjs [--for start|test]   installs what is missing, starts the services
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';

const say = (msg) => console.log(`[wrenn] ${msg}`);
const isRoot = process.getuid?.() === 0;

/**
 * Host packages: what each is found by (an executable on PATH or a file) and who needs it.
 * `for: 'start'` is needed to run the platform (and so by the host and end-to-end suites too);
 * `for: 'test'` only by the suites named in `suites`.
 */
export const HOST_PACKAGES = [
  // Slots are netns + an nftables table, images start from debootstrap (the Firecracker guest image is
  // made from the base image), tini is the sandbox's PID 1, nsenter enters a sandbox.
  { pkg: 'debootstrap', bin: 'debootstrap', for: 'start', suites: 'host, e2e (base image)' },
  { pkg: 'tini', bin: 'tini', for: 'start', suites: 'host, e2e (sandbox PID 1)' },
  { pkg: 'util-linux', bin: 'nsenter', for: 'start', suites: 'host, e2e (nsenter, mount)' },
  // A sandbox's disk is an ext4 image (mkfs.ext4; debugfs reads one in tests).
  { pkg: 'e2fsprogs', bin: 'mkfs.ext4', for: 'start', suites: 'host, e2e (sandbox disks)' },
  { pkg: 'iproute2', bin: 'ip', for: 'start', suites: 'host, e2e (netns, veths)' },
  { pkg: 'nftables', bin: 'nft', for: 'start', suites: 'host, e2e (slot firewall)' },
  // A recycled network slot's connections are flushed from the kernel's tracking table.
  { pkg: 'conntrack', bin: 'conntrack', for: 'start', suites: 'host, e2e (network slot recycling)' },
  // The sandbox helper's seccomp filter (native/sandbox, linked with libseccomp).
  { pkg: 'libseccomp-dev', file: '/usr/include/seccomp.h', for: 'start', suites: 'host, e2e (the sandbox helper)' },
  // The native addon (userfaultfd page server) is compiled by node-gyp.
  { pkg: 'python3', bin: 'python3', for: 'start', suites: 'host (native addon build)' },
  { pkg: 'make', bin: 'make', for: 'start', suites: 'host (native addon build)' },
  { pkg: 'g++', bin: 'c++', for: 'start', suites: 'host (native addon build)' },
  // The browser-tested UI suite drives Debian's chromium (playwright-core brings no browser).
  { pkg: 'chromium', bin: 'chromium', for: 'test', suites: 'e2e: test/e2e test-ui.e2e.spec (the test UI in a browser)' },
];

export const has = (bin) =>
  spawnSync('sh', ['-c', 'command -v "$0"', bin], { stdio: 'ignore' }).status === 0 || existsSync(`/usr/sbin/${bin}`) || existsSync(`/sbin/${bin}`);
const present = (p) => (p.bin ? has(p.bin) : existsSync(p.file));

/**
 * Packages of `HOST_PACKAGES` needed for `purpose` that the machine lacks: `start` (run the
 * platform), `test` (that and every suite), `services` (none: PostgreSQL and NATS only).
 */
export function missingPackages(purpose) {
  const needed = (p) => purpose === 'test' || (purpose === 'start' && p.for === 'start');
  return HOST_PACKAGES.filter((p) => needed(p) && !present(p));
}

let aptUpdated = false;
/** Installs Debian packages; throws a NotInstallable error when this process cannot. */
export function aptInstall(packages) {
  if (!isRoot || !has('apt-get')) {
    const error = new Error(`cannot install ${packages.join(', ')}: ${isRoot ? 'no apt-get on this machine' : 'not root'}`);
    error.code = 'NOT_INSTALLABLE';
    throw error;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another run on the same machine may hold the dpkg lock: wait for it rather than fail.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  const run = (args) => {
    const r = spawnSync('apt-get', [...lock, ...args], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${r.status ?? r.signal})`);
  };
  if (!aptUpdated) {
    run(['update', '-qq']);
    aptUpdated = true;
  }
  run(['install', '-y', '-qq', ...packages]);
}

/**
 * Installs the host packages `purpose` needs. Returns what is still missing (empty when all is
 * there): a caller that may go on without (the test runner) reports it, the others stop.
 */
export function ensureHostPackages(purpose) {
  const missing = missingPackages(purpose);
  if (missing.length === 0) return [];
  say(`installing host packages: ${missing.map((p) => p.pkg).join(', ')}`);
  try {
    aptInstall(missing.map((p) => p.pkg));
  } catch (error) {
    if (error.code !== 'NOT_INSTALLABLE') throw error;
    say(error.message);
  }
  return missingPackages(purpose);
}

export function reachable(host, port, timeoutMs = 800) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitFor(host, port, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up on ${host}:${port} within ${timeoutMs / 1000} s`);
}
const isLoopback = (host) => ['127.0.0.1', 'localhost', '::1'].includes(host);

/** Debian's nats-server, installed when missing. */
export function ensureNatsBinary() {
  if (has('nats-server')) return;
  say('installing nats-server');
  aptInstall(['nats-server']);
}

/** NATS with JetStream at NATS_URL (default 127.0.0.1:4222); started here when it is loopback and silent. */
export async function ensureNats({ stateDir = process.env.WRENN_STATE_DIR ?? '/var/lib/wrenn' } = {}) {
  const url = new URL(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
  const port = Number(url.port || 4222);
  if (await reachable(url.hostname, port)) return;
  if (!isLoopback(url.hostname)) throw new Error(`NATS at ${url} is not reachable`);
  if (!has('nats-server')) {
    say('installing nats-server');
    aptInstall(['nats-server']);
  }
  const dir = `${stateDir}/nats`;
  mkdirSync(dir, { recursive: true });
  say(`starting nats-server with JetStream on ${url.hostname}:${port} (data in ${dir})`);
  const log = openSync(`${dir}/nats-server.log`, 'a');
  // Its own session: it outlives this process and no test run's process-group kill reaches it.
  spawn(has('nats-server') ? 'nats-server' : '/usr/sbin/nats-server', ['-a', url.hostname, '-p', String(port), '-js', '-sd', dir], { detached: true, stdio: ['ignore', log, log] }).unref();
  await waitFor(url.hostname, port, 'nats-server');
}

/**
 * PostgreSQL at DATABASE_URL (default 127.0.0.1:5432): the newest installed cluster is started
 * when it is loopback and silent; installed and created when there is none. When it started
 * one, it gives Wrenn a role of its own (Debian's cluster asks for a password over TCP) and
 * returns its URL; `created` says the cluster is new (so its loopback is not `trust`).
 */
export async function ensurePostgres() {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/wrenn');
  const port = Number(url.port || 5432);
  if (await reachable(url.hostname, port)) return {};
  if (!isLoopback(url.hostname)) throw new Error(`PostgreSQL at ${url.hostname}:${port} is not reachable`);
  if (!existsSync('/usr/lib/postgresql')) {
    say('installing postgresql');
    aptInstall(['postgresql']);
  }
  const version = execFileSync('ls', ['/usr/lib/postgresql']).toString().trim().split('\n').sort().pop();
  const created = !existsSync(`/etc/postgresql/${version}/main`);
  say(`starting PostgreSQL ${version}`);
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: '/' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
  };
  if (created) run('pg_createcluster', ['--port', String(port), '--start', version, 'main']);
  else run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
  await waitFor(url.hostname, port, 'PostgreSQL');
  const sql = `DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='wrenn') THEN CREATE ROLE wrenn LOGIN CREATEDB PASSWORD 'wrenn'; END IF; END$$;`;
  run('runuser', ['-u', 'postgres', '--', 'psql', '-q', '-p', String(port), '-c', sql]);
  return { roleUrl: `postgres://wrenn:wrenn@${url.hostname}:${port}`, created };
}

/**
 * Everything `purpose` needs. For `start` anything missing is an error. For `test` what cannot be
 * installed or started is returned (packages with the suites they fail, service problems) so the
 * runner can say which suites will fail and still run the others.
 */
export async function setUpHost(purpose, { openNats = true } = {}) {
  const missing = ensureHostPackages(purpose);
  if (missing.length && purpose === 'start') throw new Error(`missing ${missing.map((p) => p.pkg).join(', ')}: install them (needs root) and run again`);
  const problems = [];
  let postgres = {};
  // The open NATS on 4222 is what the shared test slices use; `npm start` runs its own
  // authenticated one instead (scripts/secured-nats.mjs) and only needs the binary.
  const nats = openNats ? () => ensureNats() : async () => ensureNatsBinary();
  for (const [what, ensure] of [['NATS', nats], ['PostgreSQL', async () => { postgres = await ensurePostgres(); }]]) {
    try {
      await ensure();
    } catch (error) {
      if (purpose === 'start') throw error;
      problems.push(`${what}: ${error.message} (the int, host and e2e suites will fail)`);
    }
  }
  return { missing, problems, postgres };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--for');
  const purpose = at > 0 ? process.argv[at + 1] : 'test';
  try {
    const { missing, problems } = await setUpHost(purpose);
    for (const p of missing) say(`missing ${p.pkg}: ${p.suites} will fail`);
    for (const p of problems) say(p);
    process.exit(missing.length || problems.length ? 1 : 0);
  } catch (error) {
    console.error(`[wrenn] ${error.message}`);
    process.exit(1);
  }
}

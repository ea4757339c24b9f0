#!/usr/bin/env node
// `npm test`: makes sure the machine has what the suites need (scripts/host-setup.mjs: host
// packages, PostgreSQL and NATS), builds, then runs every suite with Node's test runner, in
// layers: unit → integration (real PostgreSQL + NATS) → host (root, kernel) → end-to-end (REST).
//
//   npm test                       everything
//   npm test -- unit               one layer (or int, host, e2e; several may be given)
//   npm test -- host cgroup        files of the layer whose path contains "cgroup"
//
// Files run one at a time (the host and end-to-end suites share the kernel), each in its own
// process group under a deadline (scripts/test-file-runner.mjs): a file that hangs is killed,
// named with the test that was running, and the run goes on. WRENN_TEST_FILE_TIMEOUT (seconds)
// overrides the per-layer deadline. The closing line is `N passed, N failed, N skipped`; the
// exit code is non-zero on any failure, timeout or file that could not run.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setUpHost } from './host-setup.mjs';
import { markedProcesses, runTestFile } from './test-file-runner.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const order = ['unit', 'int', 'host', 'e2e'];
/** Deadline of one file per layer, seconds: well above the slowest file's time on a busy 2-core machine. */
const FILE_TIMEOUT_S = { unit: 120, int: 300, host: 600, e2e: 900 };

const args = process.argv.slice(2);
const wanted = args.filter((a) => order.includes(a));
const filters = args.filter((a) => !order.includes(a));
const layers = wanted.length ? wanted : order;

// The host and end-to-end layers share the kernel with any other run on this machine (netns,
// nftables tables, cgroups, loop devices, the host-clean baseline): a second `npm test` beside
// this one waits for it instead of failing on its state. Unit and integration runs need no lock.
const KERNEL_LOCK = '/run/lock/wrenn-tests-kernel.lock';
if (layers.some((l) => l === 'host' || l === 'e2e') && process.env.WRENN_TEST_KERNEL_LOCK !== 'held' && spawnSync('sh', ['-c', 'command -v flock'], { stdio: 'ignore' }).status === 0) {
  if (spawnSync('flock', ['-n', KERNEL_LOCK, 'true']).status !== 0) console.log(`[wrenn] another test run holds ${KERNEL_LOCK}: waiting for it`);
  const locked = spawnSync('flock', [KERNEL_LOCK, process.execPath, fileURLToPath(import.meta.url), ...args], {
    stdio: 'inherit',
    env: { ...process.env, WRENN_TEST_KERNEL_LOCK: 'held' },
  });
  process.exit(locked.status ?? 1);
}

// What the layers need from the machine. Unit tests need nothing; the others the services; the
// host and end-to-end layers the host packages; the end-to-end layer also the browser.
const notes = [];
if (layers.some((l) => l !== 'unit')) {
  const purpose = layers.includes('e2e') ? 'test' : layers.includes('host') ? 'start' : undefined;
  const setup = await setUpHost(purpose ?? 'services').catch((error) => ({ missing: [], problems: [error.message], postgres: {} }));
  for (const p of setup.missing) notes.push(`missing host package ${p.pkg} (needs root and apt to install): ${p.suites} will fail`);
  notes.push(...setup.problems);
  // A cluster made just now asks for a password over TCP: the tests use Wrenn's role.
  if (setup.postgres?.created && !process.env.WRENN_TEST_PG) process.env.WRENN_TEST_PG = setup.postgres.roleUrl;
  if (process.getuid?.() !== 0 && layers.some((l) => l === 'host' || l === 'e2e')) notes.push('not root: the host and e2e suites need root and will fail');
  for (const n of notes) console.log(`[wrenn] ${n}`);
}

const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// The userfaultfd guest stand-in is a test-only addon: built here, never by `npm run build`.
const guest = spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs'), '--test-guest'], { cwd: root, stdio: 'inherit' });
if (guest.status !== 0) process.exit(guest.status ?? 1);

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.spec.js')) out.push(path);
  }
  return out;
}
const files = ['libs', 'services', 'tools', 'test']
  .flatMap((top) => {
    try {
      return readdirSync(join(root, top)).map((pkg) => join(root, top, pkg, 'dist'));
    } catch {
      return [];
    }
  })
  .filter((dist) => {
    try {
      return statSync(dist).isDirectory();
    } catch {
      return false;
    }
  })
  // A spec whose source was moved or deleted is left out: tsc -b never removes what it once wrote.
  .flatMap((dist) => find(dist).filter((f) => existsSync(join(dist, '..', 'src', relative(dist, f)).replace(/\.js$/, '.ts'))));

const layerOf = (f) => (f.endsWith('.e2e.spec.js') ? 'e2e' : f.endsWith('.host.spec.js') ? 'host' : f.endsWith('.int.spec.js') ? 'int' : 'unit');
const selected = files
  .filter((f) => layers.includes(layerOf(f)))
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort((a, b) => order.indexOf(layerOf(a)) - order.indexOf(layerOf(b)) || a.localeCompare(b))
  // The leftover check must run after everything else that touches the host.
  .sort((a, b) => Number(a.includes('zz-')) - Number(b.includes('zz-')));

console.log(`running ${selected.length} test files:\n${selected.map((f) => `  ${relative(root, f)}`).join('\n')}`);

const runDir = mkdtempSync(join(tmpdir(), 'wrenn-test-run-'));
const runId = randomBytes(6).toString('hex');
const marker = `WRENN_TEST_RUN=${runId}`;
const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', WRENN_TEST_RUN: runId };

// What the host held before the run, so the final leftover check blames the run only for what
// the run made (an operator's Wrenn on the same host keeps its own netns, rules and cgroups).
if (layers.some((l) => l === 'host' || l === 'e2e')) {
  const { snapshotHost } = createRequire(import.meta.url)(join(root, 'test/e2e/dist/host-state.js'));
  env.WRENN_HOST_BASELINE = join(runDir, 'host-baseline.json');
  writeFileSync(env.WRENN_HOST_BASELINE, JSON.stringify(snapshotHost()));
}

// Ctrl-C or a CI kill: end the file that is running (and its processes) before going.
let current;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current) {
      try {
        process.kill(-current, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const p of markedProcesses(marker)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(runDir, { recursive: true, force: true });
    process.exit(130);
  });
}

const total = { passed: 0, failed: 0, skipped: 0 };
const failures = [];
const skips = [];
const started = Date.now();
for (const file of selected) {
  const name = relative(root, file);
  const timeoutS = Number(process.env.WRENN_TEST_FILE_TIMEOUT) || FILE_TIMEOUT_S[layerOf(file)];
  const r = await runTestFile(file, { timeoutMs: timeoutS * 1000, env, progressPath: join(runDir, 'progress.jsonl'), marker, cwd: root });
  total.passed += r.passed;
  total.failed += r.failed;
  total.skipped += r.skipped;
  for (const f of r.failures) failures.push(`${name}: ${f.name}${f.error ? `\n      ${f.error.split('\n')[0]}` : ''}`);
  for (const s of r.skips) skips.push(`${name}: ${s.name} — ${s.reason}`);
  if (r.timedOut) {
    total.failed++;
    const what = r.running.length ? `while running "${r.running.join('", "')}"` : 'no test was running (a hook, an import or the event loop kept it alive)';
    failures.push(`${name}: TIMED OUT after ${timeoutS} s ${what}; killed with its processes`);
    console.log(`\n✖ ${name} timed out after ${timeoutS} s ${what}`);
  } else if (r.code !== 0 && r.failures.length === 0) {
    // It failed without a failing test: it did not load, or crashed between tests.
    total.failed++;
    failures.push(`${name}: the file exited with ${r.code ?? r.signal} outside any test${r.running.length ? ` (in "${r.running.join('", "')}")` : ''}`);
  }
  if (r.leftProcesses.length) {
    // Killed now, but a defect of the file: it must stop what it starts, pass or fail.
    total.failed++;
    const list = r.leftProcesses.map((p) => `pid ${p.pid} ${p.args}`);
    failures.push(`${name}: left ${list.length} process(es) running when it ended (killed):\n      ${list.join('\n      ')}`);
    console.log(`\n✖ ${name} left ${list.length} process(es) running (killed):\n  ${list.join('\n  ')}`);
  }
}
rmSync(runDir, { recursive: true, force: true });

const minutes = ((Date.now() - started) / 60_000).toFixed(1);
if (skips.length) console.log(`\nskipped:\n  ${skips.join('\n  ')}`);
if (notes.length) console.log(`\nmachine:\n  ${notes.join('\n  ')}`);
if (failures.length) console.log(`\nfailed:\n  ${failures.join('\n  ')}`);
console.log(`\n${selected.length} files in ${minutes} min`);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 ? 1 : 0);

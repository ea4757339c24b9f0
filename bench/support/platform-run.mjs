// What the REST benchmarks share: percentiles, flags, a platform started for the run that is
// always cleaned up (also on Ctrl-C), a baseline tree built in a worktree of its own, and the
// platform's Prometheus series. Lives under bench/support so `bench/run.mjs` does not run it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const pct = (xs, p) => (xs.length ? xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);
export const ms = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');
export const fmt = (xs) => `p50 ${ms(pct(xs, 50))} ms, p99 ${ms(pct(xs, 99))} ms (n=${xs.length})`;
export const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** `--name value` flags; `--name` alone is "1". */
export function flags(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue;
    const key = argv[i].slice(2);
    out[key] = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : '1';
  }
  return out;
}

/** The machine's load when a number was taken: the benches run on a shared host. */
export function machine() {
  const [l1, l5] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return `load ${l1.toFixed(1)} (5 min ${l5.toFixed(1)}), ${cpus()} cores`;
}
const cpus = () => readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;

/**
 * The machine's CPU time so far (every core, every process, kernel included), in ms: busy
 * jiffies from /proc/stat. The difference across a phase is what that phase cost the machine.
 */
export function machineCpuMs() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
}
export const machineCores = cpus;

/**
 * CPU time (ms) of one process and of its children it has reaped (the platform: every service,
 * the host agent, and the sandboxes' helpers and programs once they ended); NaN when it is gone.
 */
export function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // utime, stime, cutime, cstime: fields 14–17 overall, 11–14 after pid, comm and state.
    return ((f[11] + f[12] + f[13] + f[14]) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** Team quotas are policy, not capacity: a bench lifts them so it measures the host. */
export const UNLIMITED_QUOTAS = {
  WRENN_QUOTA_RUNNING_SANDBOXES: '100000',
  WRENN_QUOTA_VCPUS: '1000000',
  WRENN_QUOTA_MEMORY_MB: '100000000',
  WRENN_QUOTA_CREATES_PER_MINUTE: '1000000',
  WRENN_QUOTA_PAUSED_SANDBOXES: '100000',
};

/** Host admission lifted (for measuring past what the defaults admit today). */
export const UNLIMITED_HOST = {
  WRENN_HOST_MAX_SANDBOXES: '100000',
  WRENN_HOST_VCPUS: '1000000',
  WRENN_HOST_MEMORY_MB: '100000000',
};

/**
 * The baseline commit built in a worktree of its own under the temp dir (kept across runs: the
 * first one takes a few minutes for npm ci and the TypeScript build).
 */
export function baselineTree(commit) {
  const dir = join(tmpdir(), `wrenn-bench-baseline-${commit}`);
  const run = (cmd, args, cwd) => {
    const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}`);
  };
  if (!existsSync(join(dir, 'test/e2e/dist/platform.js')) || !existsSync(join(dir, 'tools/cli/dist/main.js'))) {
    console.log(`building the baseline ${commit} in ${dir} (first run only)…`);
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: REPO, stdio: 'ignore' });
    run('git', ['worktree', 'add', '--detach', dir, commit], REPO);
    run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir);
    run('npm', ['run', 'build', '--silent'], dir);
  }
  return dir;
}

const running = new Set();
let interrupted = false;
/** True once Ctrl-C (or SIGTERM) arrived: loops stop and the run cleans up. */
export const stopRequested = () => interrupted;

function onSignal(signal) {
  if (interrupted) {
    console.error(`\n${signal} again: still cleaning up (sandboxes outlive their agent, so leaving now would leak them)`);
    return;
  }
  interrupted = true;
  console.error(`\n${signal}: stopping, deleting what this run created…`);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

/**
 * Starts the whole platform of `tree` (its own `wrenn start`, through its own e2e harness) and
 * answers it with `release()`, which destroys every sandbox the host agent holds and stops it.
 * Ctrl-C reaches the platform too (same process group) and its orderly stop leaves sandboxes
 * running by design: release() starts it again on the same state to destroy them.
 */
export async function startBenchPlatform(tree, label, env) {
  const { startPlatform } = createRequire(join(tree, 'package.json'))(join(tree, 'test/e2e/dist/platform.js'));
  const p = await startPlatform(label, { ...UNLIMITED_QUOTAS, ...env });
  running.add(p);
  p.release = async () => {
    if (!running.delete(p)) return;
    const dead = () => p.process.exitCode !== null || p.process.signalCode !== null;
    // A Ctrl-C at a terminal reached the platform too: let its orderly stop finish before
    // asking whether it is still there (asked mid-stop, it answers nothing and exits after).
    // A signal sent to this process alone leaves it running: then the wait ends at the bound.
    for (const deadline = Date.now() + 20_000; interrupted && !dead() && Date.now() < deadline; ) await sleep(200);
    if (dead()) {
      console.error('the platform stopped; starting it again on its state to destroy its sandboxes');
      await p.restart().catch((error) => console.error(`could not restart the platform: ${error.message}`));
    }
    await p.stop();
  };
  return p;
}

/** Every platform this process started, released (the bench's `finally`). */
export async function releaseAll() {
  for (const p of [...running]) await p.release().catch((error) => console.error(`cleanup: ${error.message}`));
}

/** A call through REST that answers its status, body and time in ms. */
export async function call(p, method, path, body) {
  const t0 = performance.now();
  const res = await p.api(method, path, body);
  return { ...res, ms: performance.now() - t0 };
}

/** The platform's Prometheus series (the gateway answers /metrics for the whole process): [{ name, labels, value }]. */
export async function scrape(p) {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const samples = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/**
 * What a histogram gained between two scrapes, summed over the label sets `match` accepts:
 * { ms, count } — across one operation on an otherwise idle platform, that operation's own time.
 */
export function histogramDelta(before, after, name, match = () => true) {
  const total = (samples, suffix) => samples.filter((s) => s.name === `${name}_${suffix}` && match(s.labels)).reduce((a, s) => a + s.value, 0);
  return { ms: (total(after, 'sum') - total(before, 'sum')) * 1000, count: total(after, 'count') - total(before, 'count') };
}

/** The label values a histogram has in a scrape (e.g. every step the host agent timed). */
export function labelValues(samples, name, label) {
  return [...new Set(samples.filter((s) => s.name === `${name}_count` && s.labels[label] !== undefined).map((s) => s.labels[label]))];
}

/** MemTotal − MemAvailable in bytes: what the host has in use. */
export function hostUsedBytes() {
  const info = Object.fromEntries(readFileSync('/proc/meminfo', 'utf8').split('\n').filter(Boolean).map((l) => {
    const [k, v] = l.split(':');
    return [k, Number.parseInt(v, 10) * 1024];
  }));
  return info.MemTotal - info.MemAvailable;
}

/**
 * The processes started for sandboxes of a platform: each sandbox's native helper (its command
 * line names the sandbox's merged dir under the platform's state dir) and everything below it
 * (init, envd, what runs inside). Answers per sandbox dir: pids and the sum of RSS and PSS.
 */
export function sandboxProcesses(stateDir) {
  const children = new Map();
  const helpers = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('/wrenn-sandbox') && argv[1]?.startsWith(`${stateDir}/`)) helpers.set(Number(entry), argv[1].replace(/\/merged$/, ''));
    } catch {
      // gone meanwhile
    }
  }
  const byDir = new Map();
  for (const [helper, dir] of helpers) {
    const pids = [];
    const walk = (pid) => {
      pids.push(pid);
      for (const c of children.get(pid) ?? []) walk(c);
    };
    walk(helper);
    let rss = 0;
    let pss = 0;
    for (const pid of pids) {
      const m = memoryOf(pid);
      rss += m.rss;
      pss += m.pss;
    }
    byDir.set(dir, { pids, rss, pss });
  }
  return byDir;
}

/** RSS and PSS of one process in bytes (0 for a kernel thread or one that is gone). */
export function memoryOf(pid) {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** RSS and PSS of the platform's own processes (`wrenn start` and its children that are not sandboxes). */
export function platformMemory(p) {
  const pids = [p.process.pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
      if (ppid === p.process.pid && !argv0.endsWith('/wrenn-sandbox')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids.map(memoryOf).reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss }), { rss: 0, pss: 0 });
}

/** The sandbox dir a sandbox id runs in (a claimed warm sandbox keeps its warm dir behind a link). */
export function sandboxDir(stateDir, id) {
  const link = join(stateDir, 'sandboxes', id);
  try {
    return realpathSync(link);
  } catch {
    try {
      return readlinkSync(link);
    } catch {
      return link;
    }
  }
}

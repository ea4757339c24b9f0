#!/usr/bin/env node
// A cold start and a teardown on the host, step by step: N namespace sandboxes created (no warm
// pool: every one boots) and destroyed one after the other on the host layer directly (no
// gateway, no NATS), the pools of network slots and blank disks refilled between them as the
// agent's are. Prints the p50 (and p90) of each step of the start and of the teardown (the
// lifecycle's own step series, sandbox/step-timings.ts), of the whole create and destroy, and
// the child processes the agent ran for each (program and count), apart from the pools' refills.
// Then the floor under the steps: what this kernel charges for each piece of a start done alone
// by a minimal C program (bench/support/kernel-floor.c; cc needed).
//
//   node bench/cold-host.bench.mjs [N] [--tree DIR] [--rate SECONDS]   (N: 20, BENCH_SANDBOXES)
// --tree: measure the build of another checkout (a commit before, built), for a before/after.
// --rate: then 4 clients create and destroy cold sandboxes in a loop for that long, and the
// pairs per second the host layer sustains (and the CPU per pair) are printed.
// Needs root and the base image (built on the first run). Prints `uptime`'s load before and after:
// compare runs only at a like load.
import childProcess, { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const treeAt = argv.indexOf('--tree');
const repo = treeAt >= 0 ? argv.splice(treeAt, 2)[1] : join(here, '..');
const rateAt = argv.indexOf('--rate');
const RATE_S = rateAt >= 0 ? Number(argv.splice(rateAt, 2)[1]) : 0;
const CLIENTS = 4;
const require = createRequire(join(repo, 'package.json'));
const dist = join(repo, 'services/host-agent/dist');
const N = Number(argv[0] ?? process.env.BENCH_SANDBOXES ?? 20);

// Which part of the cycle is running: every child process started meanwhile is counted against it.
let phase = 'setup';
const children = new Map();
const countChild = (file) => {
  const program = String(file).split('/').pop();
  // Blank disks are the disk pool's work, whenever its refill timer fires.
  const key = `${program === 'mkfs.ext4' && phase !== 'rate' ? 'refill' : phase}\t${program}`;
  children.set(key, (children.get(key) ?? 0) + 1);
};
// Every asynchronous child (spawn, execFile, exec) goes through ChildProcess#spawn; the
// synchronous ones through spawnSync, looked up on the module when the agent's modules load.
const spawnChild = childProcess.ChildProcess.prototype.spawn;
childProcess.ChildProcess.prototype.spawn = function (options) {
  countChild(options.file);
  return spawnChild.call(this, options);
};
const spawnSync = childProcess.spawnSync;
childProcess.spawnSync = (file, ...rest) => {
  countChild(file);
  return spawnSync(file, ...rest);
};

// Exact durations of each step (the histogram only has buckets).
const steps = require(join(dist, 'sandbox/step-timings.js'));
const durations = new Map();
const timeStep = steps.timeStep;
steps.timeStep = (stepPhase, step, work) => {
  const started = performance.now();
  const done = () => {
    // The step table is of sandboxes started one at a time, not of the --rate run.
    if (phase === 'rate') return;
    const key = `${stepPhase}\t${step}`;
    if (!durations.has(key)) durations.set(key, []);
    durations.get(key).push(performance.now() - started);
  };
  return timeStep(stepPhase, step, work).finally(done);
};

const { NamespaceRuntime } = require(join(dist, 'sandbox/namespace/namespace-sandboxes.js'));
const { NetworkManager, unusedSlotCidr } = require(join(dist, 'networking/index.js'));
const { CgroupManager } = require(join(dist, 'cgroups/index.js'));
const { ulid } = require('ulid');

const POOL = 4;
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ms = (v) => (v === undefined ? '-' : v.toFixed(1));

const key = `c${Math.random().toString(36).slice(2, 6)}`;
const group = `wrenn-${key}`;
const stateDir = await mkdtemp('/tmp/wrenn-bench-cold-');
const network = new NetworkManager({ agentKey: key, cidr: unusedSlotCidr(229), poolSize: POOL });
const cgroups = new CgroupManager({ group });
const runtime = new NamespaceRuntime({
  stateDir,
  imageDir: process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images',
  network,
  cgroups,
  envdHost: {},
  diskPoolSize: POOL,
  warmPoolSize: 0,
});
const disks = () => runtime.diskPool?.readyCount ?? 0;
/** Until both pools are full again and their refills have ended: a cycle starts as on an idle agent. */
const settle = async () => {
  for (let i = 0; i < 200 && (network.describe().pooled < POOL || disks() < POOL); i++) await sleep(25);
  await sleep(300);
};

/** CPU milliseconds of this process and of its children it has reaped (the helper and the sandbox's init, at their teardown). */
const cpuMs = () => {
  const own = process.cpuUsage();
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime: fields 16 and 17 overall, in clock ticks (100 a second here).
  const children = (Number(fields[13]) + Number(fields[14])) * 10;
  return (own.user + own.system) / 1000 + children;
};
let cpuAtStart = 0;
let cpuPerPair = 0;
let rate;
const created = new Set();
const wall = { create: [], destroy: [] };
const loadBefore = load();
try {
  await runtime.prepare();
  await runtime.recover();
  await settle();
  for (let i = -1; i < N; i++) {
    // The first cycle warms the page cache and the code paths; it is not counted.
    if (i === 0) {
      durations.clear();
      cpuAtStart = cpuMs();
    }
    const sandboxId = `sb_${ulid().toLowerCase()}`;
    phase = i < 0 ? 'warmup' : 'start';
    let t = performance.now();
    await runtime.create({ sandboxId, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 128 });
    created.add(sandboxId);
    if (i >= 0) wall.create.push(performance.now() - t);
    phase = i < 0 ? 'warmup' : 'teardown';
    t = performance.now();
    await runtime.destroy(sandboxId);
    created.delete(sandboxId);
    if (i >= 0) wall.destroy.push(performance.now() - t);
    phase = i < 0 ? 'warmup' : 'refill';
    await settle();
  }
  cpuPerPair = (cpuMs() - cpuAtStart) / N;
  if (RATE_S > 0) {
    phase = 'rate';
    const cpuBefore = cpuMs();
    const started = performance.now();
    const until = started + RATE_S * 1000;
    let pairs = 0;
    const client = async () => {
      while (performance.now() < until) {
        const sandboxId = `sb_${ulid().toLowerCase()}`;
        await runtime.create({ sandboxId, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 128 });
        created.add(sandboxId);
        await runtime.destroy(sandboxId);
        created.delete(sandboxId);
        pairs++;
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const seconds = (performance.now() - started) / 1000;
    rate = { pairs, perSecond: pairs / seconds, cpu: (cpuMs() - cpuBefore) / pairs, load: load() };
  }
} finally {
  phase = 'cleanup';
  for (const sandboxId of created) await runtime.destroy(sandboxId).catch((e) => console.error(`destroy ${sandboxId}: ${e.message}`));
  await runtime.shutdown?.().catch(() => undefined);
  await runtime.diskPool?.stop().catch(() => undefined);
  await runtime.envdHost?.close?.().catch(() => undefined);
  await network.stop({ removeHostRules: true }).catch(() => undefined);
  await cgroups.removeGroup().catch(() => undefined);
  await rm(stateDir, { recursive: true, force: true });
}

console.log(`${repo}: ${N} cold sandboxes started and torn down one at a time on the host layer; load before ${loadBefore}, after ${load()}`);
console.log(`${'step'.padEnd(24)}${'p50 ms'.padStart(8)}${'p90 ms'.padStart(8)}`);
for (const stepPhase of ['start', 'teardown']) {
  const rows = [...durations].filter(([k]) => k.startsWith(`${stepPhase}\t`));
  console.log(`${stepPhase}:`);
  for (const [k, values] of rows) console.log(`  ${k.split('\t')[1].padEnd(22)}${ms(pct(values, 50)).padStart(8)}${ms(pct(values, 90)).padStart(8)}`);
  const total = stepPhase === 'start' ? wall.create : wall.destroy;
  console.log(`  ${`whole ${stepPhase === 'start' ? 'create' : 'destroy'}`.padEnd(22)}${ms(pct(total, 50)).padStart(8)}${ms(pct(total, 90)).padStart(8)}`);
}
console.log(`CPU per sandbox (create + destroy + the pools' refills), this process and its children: ${cpuPerPair.toFixed(1)} ms`);
if (rate) console.log(`${CLIENTS} clients creating and destroying cold sandboxes for ${RATE_S} s: ${rate.pairs} pairs, ${rate.perSecond.toFixed(2)} a second, CPU ${rate.cpu.toFixed(1)} ms a pair (load ${rate.load})`);
console.log('child processes the agent started, per sandbox:');
for (const p of ['start', 'teardown', 'refill']) {
  const rows = [...children].filter(([k]) => k.startsWith(`${p}\t`)).map(([k, n]) => `${k.split('\t')[1]} ×${(n / N).toFixed(1).replace(/\.0$/, '')}`);
  const total = [...children].filter(([k]) => k.startsWith(`${p}\t`)).reduce((sum, [, n]) => sum + n, 0) / N;
  console.log(`  ${(p === 'refill' ? 'pool refills' : p).padEnd(13)}${total.toFixed(1).padStart(5)}   ${rows.join(', ') || '-'}`);
}

// The floor: each piece of the start alone, in a minimal C program (no Node, no agent).
const floorDir = await mkdtemp('/tmp/wrenn-bench-floor-');
try {
  const program = join(floorDir, 'kernel-floor');
  execFileSync('cc', ['-O2', '-o', program, join(here, 'support/kernel-floor.c')]);
  const lines = execFileSync(program, [`wrenn-floor-${key}`], { encoding: 'utf8' }).trim().split('\n');
  console.log(`what the kernel charges, each piece alone (bench/support/kernel-floor.c; load ${load()}):`);
  console.log(`${''.padEnd(40)}${'p50 ms'.padStart(8)}${'p90 ms'.padStart(8)}`);
  for (const line of lines) {
    const [what, p50, p90] = line.split('\t');
    console.log(`  ${what.padEnd(38)}${(Number(p50) / 1000).toFixed(2).padStart(8)}${(Number(p90) / 1000).toFixed(2).padStart(8)}`);
  }
} catch (error) {
  console.log(`kernel floor not measured: ${error.message.split('\n')[0]}`);
} finally {
  await rm(floorDir, { recursive: true, force: true });
}

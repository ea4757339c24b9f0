#!/usr/bin/env node
// Host memory per idle namespace sandbox: N sandboxes started and used once (an exec each), then
// left idle. Prints the host's used memory before/after ÷ N (as `free` counts it: total − free −
// buffers/cache), the sum of RSS and PSS of every process the sandboxes hold (their cgroups and
// their supervisors), and how much this process (the host agent's part: with the host's own
// envd, every sandbox's envd lives here) grew.
//
//   node --expose-gc bench/namespace-idle-memory.bench.mjs [--envd sandbox|host] [N]
// --envd sandbox: a Node envd inside every sandbox (the way before); host: one envd in this
// process, reaching into each sandbox through its init (the default).
// Needs root and the base image. N defaults to 20 (BENCH_SANDBOXES).
//
// On the 2-core, 24 GiB test machine, N = 50 (quiet machine), per idle sandbox:
//                          free's used Δ   processes' PSS (RSS)    agent's RSS Δ   create+exec ×50
//   Node envd inside          17.2 MiB       16.0 MiB (61.0 MiB)      0.7 MiB          24.3 s
//   the host agent's envd      1.2 MiB        0.3 MiB  (2.5 MiB)      0.6 MiB          13.8 s
// (processes per sandbox: helper, tini and node before; helper and wrenn-init-agent after.)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const require = createRequire(join(repo, 'package.json'));
const dist = join(repo, 'services/host-agent/dist');
const { NamespaceRuntime } = require(join(dist, 'sandbox/namespace/namespace-sandboxes.js'));
const { NetworkManager, unusedSlotCidr } = require(join(dist, 'networking/index.js'));
const { CgroupManager } = require(join(dist, 'cgroups/index.js'));
const { SandboxOrchestrator } = require(join(dist, 'sandbox/sandbox-orchestrator.js'));
const quietLogger = () => { const l = { info() {}, debug() {}, warn: (o, m) => console.warn(m ?? o), error: (o, m) => console.error(m ?? o) }; l.child = () => l; return l; };
const { ulid } = require('ulid');

const args = process.argv.slice(2);
const modeAt = args.indexOf('--envd');
const mode = modeAt >= 0 ? args[modeAt + 1] : 'host';
const N = Number(args.filter((a, i) => i !== modeAt && i !== modeAt + 1)[0] ?? process.env.BENCH_SANDBOXES ?? 20);
const MiB = 1024 * 1024;

/** Used memory as `free` shows it, bytes. */
function usedBytes() {
  const info = Object.fromEntries(
    readFileSync('/proc/meminfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [k, v] = l.split(':');
        return [k, Number.parseInt(v, 10) * 1024];
      }),
  );
  return info.MemTotal - info.MemFree - info.Buffers - info.Cached - info.SReclaimable;
}

/** Every pid in a cgroup tree (v1 pids hierarchy, or v2). */
function pidsUnder(group) {
  const roots = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup'].map((r) => join(r, group)).filter((p) => existsSync(p));
  const pids = new Set();
  const walk = (dir) => {
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(pid));
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  if (roots[0]) walk(roots[0]);
  return pids;
}

function rssPss(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 500));
  }
};

const key = `m${Math.random().toString(36).slice(2, 6)}`;
const group = `wrenn-${key}`;
const stateDir = await mkdtemp('/tmp/wrenn-bench-mem-');
const network = new NetworkManager({ agentKey: key, cidr: unusedSlotCidr(227), poolSize: 0 });
const cgroups = new CgroupManager({ group });
const runtime = new NamespaceRuntime({
  stateDir,
  imageDir: process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images',
  network,
  cgroups,
  ...(mode === 'host'
    ? { envdHost: {} }
    : { envd: { nodeBinary: process.execPath, bundleDir: join(repo, 'services/envd/bundle') } }),
});
const orchestrator = new SandboxOrchestrator(runtime, quietLogger());
const ids = [];
const measured = [];
try {
  await orchestrator.start();
  // One sandbox first, so what every sandbox shares (the image's page cache, the first envd's
  // code) is not counted against the N.
  const warmup = `sb_${ulid().toLowerCase()}`;
  ids.push(warmup);
  await orchestrator.create({ commandId: ulid(), spec: { sandboxId: warmup, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 256 } });
  await orchestrator.exec({ sandboxId: warmup, cmd: 'true', args: [], timeoutSec: 10 });
  await runtime.envdHost?.sweep(Number.MAX_SAFE_INTEGER);
  await settle();
  const before = { used: usedBytes(), self: rssPss(process.pid) };
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    const sandboxId = `sb_${ulid().toLowerCase()}`;
    await orchestrator.create({ commandId: ulid(), spec: { sandboxId, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 256 } });
    ids.push(sandboxId);
    measured.push(sandboxId);
    const r = await orchestrator.exec({ sandboxId, cmd: 'true', args: [], timeoutSec: 10 });
    if (r.exitCode !== 0) throw new Error(`exec in ${sandboxId}: ${r.exitCode} ${r.stderr}`);
  }
  const createMs = performance.now() - started;
  // Idle: what the host's envd keeps of a sandbox that runs nothing is its entry.
  const dropped = (await runtime.envdHost?.sweep(Number.MAX_SAFE_INTEGER)) ?? 0;
  await settle();
  const after = { used: usedBytes(), self: rssPss(process.pid) };
  let rss = 0;
  let pss = 0;
  let processes = 0;
  const metas = measured.map((id) => JSON.parse(readFileSync(join(stateDir, 'sandboxes', id, 'meta.json'), 'utf8')));
  const pids = new Set([...measured.flatMap((id) => [...pidsUnder(join(group, id))]), ...metas.map((m) => m.supervisorPid)]);
  for (const pid of pids) {
    const m = rssPss(pid);
    rss += m.rss;
    pss += m.pss;
    processes++;
  }
  const perSandbox = (bytes) => `${(bytes / N / MiB).toFixed(2)} MiB`;
  console.log(`envd: ${mode === 'host' ? 'one in the host agent' : 'a Node envd in every sandbox'}; ${N} idle sandboxes (created+exec'd in ${(createMs / 1000).toFixed(1)} s; ${dropped} idle envd instances dropped)`);
  console.log(`  host used memory (free) delta ÷ N : ${perSandbox(after.used - before.used)}`);
  console.log(`  sandboxes' processes, RSS sum ÷ N : ${perSandbox(rss)}   (${processes} processes, ${(processes / N).toFixed(1)} each)`);
  console.log(`  sandboxes' processes, PSS sum ÷ N : ${perSandbox(pss)}`);
  console.log(`  this process (agent side) RSS Δ ÷ N: ${perSandbox(after.self.rss - before.self.rss)}`);
  console.log(`  per sandbox, PSS + agent side     : ${perSandbox(pss + after.self.rss - before.self.rss)}`);
} finally {
  for (const sandboxId of ids) await orchestrator.destroy({ commandId: ulid(), sandboxId }).catch((e) => console.error(`destroy ${sandboxId}: ${e.message}`));
  await orchestrator.shutdown().catch(() => undefined);
  await network.stop({ removeHostRules: true }).catch(() => undefined);
  await cgroups.removeGroup().catch(() => undefined);
  await rm(stateDir, { recursive: true, force: true });
}

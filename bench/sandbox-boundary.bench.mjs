#!/usr/bin/env node
// What the sandbox boundary (user namespace, the native helper's mounts and seccomp, an ext4
// disk per sandbox, envd's token) costs: create (cold, and from the warm pool), exec, pause and
// resume of the namespace runtime, on this tree and on a baseline commit from before the
// boundary, side by side in one run. The baseline is checked out into a temporary worktree and
// built there (npm ci from the local cache, TypeScript build): the first run takes a few minutes.
//
//   node bench/sandbox-boundary.bench.mjs [--baseline <commit>]
// Needs root and the base image. Bounded: BENCH_CREATES creates of each kind (default 15),
// BENCH_EXECS execs (default 100), BENCH_CYCLES pause+resume cycles (default 10).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
/** The last commit whose namespace sandboxes ran without a user namespace, seccomp or a disk image. */
const DEFAULT_BASELINE = 'f55029e';
const CREATES = Number(process.env.BENCH_CREATES ?? 15);
const EXECS = Number(process.env.BENCH_EXECS ?? 100);
const CYCLES = Number(process.env.BENCH_CYCLES ?? 10);

// Slot addresses nothing else on the host uses (this tree's helper serves both trees' runs).
const { unusedSlotCidr } = createRequire(import.meta.url)(join(repo, 'services/host-agent/dist/networking/index.js'));
const SLOT_CIDR = unusedSlotCidr(226);

const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** One tree's numbers: its own runtime code, loaded from its dist. */
async function measure(tree) {
  const require = createRequire(join(tree, 'package.json'));
  const dist = join(tree, 'services/host-agent/dist');
  // The namespace runtime's entry point: the lifecycle's since the drivers were split off
  // (sandbox/namespace), the runtime folder's before (a baseline tree keeps its own).
  const entry = ['sandbox/namespace/namespace-sandboxes.js', 'runtime/namespace/namespace.runtime.js'].map((p) => join(dist, p)).find((p) => existsSync(p));
  if (!entry) throw new Error(`no namespace runtime in ${dist}`);
  const { NamespaceRuntime } = require(entry);
  const { NetworkManager } = require(join(dist, 'networking/index.js'));
  const { CgroupManager } = require(join(dist, 'cgroups/index.js'));
  const { EnvdClient } = require(join(dist, 'envd-client/envd.client.js'));
  const { ulid } = require('ulid');
  const key = `b${Math.random().toString(36).slice(2, 6)}`;
  const stateDir = await mkdtemp('/tmp/wrenn-bench-bd-');
  const network = new NetworkManager({ agentKey: key, cidr: SLOT_CIDR, poolSize: 2 });
  const cgroups = new CgroupManager({ group: `wrenn-${key}` });
  const runtime = (warmPoolSize) =>
    new NamespaceRuntime({
      stateDir,
      imageDir: process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images',
      network,
      cgroups,
      warmPoolSize,
      envd: { nodeBinary: process.execPath, bundleDir: join(tree, 'services/envd/bundle') },
    });
  const spec = () => ({ sandboxId: `sb_${ulid().toLowerCase()}`, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 256 });
  const made = [];
  const out = { cold: [], warm: [], exec: [], pause: [], resume: [] };
  const rt = runtime(0);
  const timed = async (list, fn) => {
    const t0 = performance.now();
    await fn();
    list.push(performance.now() - t0);
  };
  try {
    await rt.prepare();
    await rt.recover();
    for (let i = 0; i < CREATES; i++) {
      await new Promise((r) => setTimeout(r, 200)); // the slot pool refills, as between users
      const s = spec();
      made.push([rt, s.sandboxId]);
      await timed(out.cold, () => rt.create(s));
    }
    const id = made[0][1];
    const { envdUrl, accessToken } = await rt.endpoint(id);
    const envd = new EnvdClient(envdUrl, accessToken);
    for (let i = 0; i < EXECS; i++) await timed(out.exec, () => envd.exec({ cmd: 'true', args: [], user: 'root' }, 10));
    envd.close();
    const s = { ...spec(), sandboxId: id };
    for (let i = 0; i < CYCLES; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const { snapshotRef } = await (async () => {
        let result;
        await timed(out.pause, async () => (result = await rt.pause(id)));
        return result;
      })();
      await new Promise((r) => setTimeout(r, 200));
      await timed(out.resume, () => rt.resume(s, snapshotRef));
    }
    for (const [r, m] of made.splice(0)) await r.destroy(m);
    await rt.shutdown();

    // The warm pool: a create claims a sandbox started ahead; wait for the refill between creates.
    const warm = runtime(1);
    await warm.recover();
    for (let i = 0; i < CREATES; i++) {
      const deadline = Date.now() + 30_000;
      while ((await readdir(join(stateDir, 'warm')).catch(() => [])).length < 1 + i && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300)); // its envd up
      const w = spec();
      made.push([warm, w.sandboxId]);
      await timed(out.warm, () => warm.create(w));
    }
    for (const [r, m] of made.splice(0)) await r.destroy(m);
    await warm.shutdown();
  } finally {
    for (const [r, m] of made) await r.destroy(m).catch(() => undefined);
    await network.stop({ removeHostRules: true }).catch(() => undefined);
    await cgroups.removeGroup().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  }
  return out;
}

/** The baseline built in a worktree of its own (kept in the temp dir across runs of this bench). */
function baselineTree(commit) {
  const dir = join(tmpdir(), `wrenn-bench-baseline-${commit}`);
  const run = (cmd, args, cwd) => {
    const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}`);
  };
  if (!existsSync(join(dir, 'services/host-agent/dist'))) {
    console.log(`building the baseline ${commit} in ${dir} (first run only)…`);
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: repo, stdio: 'ignore' });
    run('git', ['worktree', 'add', '--detach', dir, commit], repo);
    run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir);
    run('npm', ['run', 'build', '--silent'], dir);
  }
  return dir;
}

const at = process.argv.indexOf('--baseline');
const commit = at > 0 ? process.argv[at + 1] : DEFAULT_BASELINE;
const before = await measure(baselineTree(commit));
const after = await measure(repo);
const row = (name, key) => {
  const b = pct(before[key], 50);
  const a = pct(after[key], 50);
  const b99 = pct(before[key], 99);
  const a99 = pct(after[key], 99);
  console.log(`${name.padEnd(22)} ${b.toFixed(1).padStart(8)} ${a.toFixed(1).padStart(8)} ${`${a - b >= 0 ? '+' : ''}${(a - b).toFixed(1)}`.padStart(8)}   ${b99.toFixed(1).padStart(8)} ${a99.toFixed(1).padStart(8)}`);
};
console.log(`\nbaseline ${commit} vs this tree (ms)    p50 before  after   delta    p99 before  after`);
row('create (cold)', 'cold');
row('create (warm pool)', 'warm');
row('exec true', 'exec');
row('pause', 'pause');
row('resume', 'resume');

#!/usr/bin/env node
// Pause and resume in the host agent's namespace runtime (no REST, no event log): p50/p99 of each,
// with where the time goes (the runtime's own step boundaries), and a template from a sandbox.
// Needs root and the base image. Bounded: BENCH_CYCLES pause+resume cycles (default 20).
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const dist = join(here, '../services/host-agent/dist');
const { NamespaceRuntime } = require(join(dist, 'sandbox/namespace/namespace-sandboxes.js'));
const { NetworkManager } = require(join(dist, 'networking/index.js'));
const { CgroupManager } = require(join(dist, 'cgroups/index.js'));
const { EnvdClient } = require(join(dist, 'envd-client/envd.client.js'));

const CYCLES = Number(process.env.BENCH_CYCLES ?? 20);
const KEY = `b${Math.random().toString(36).slice(2, 6)}`;
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

// Time between consecutive step boundaries, per operation.
let marks = [];
const mark = (step) => marks.push([step, performance.now()]);
const steps = new Map();
const record = (op, t0, t1) => {
  let prev = ['begin', t0];
  for (const m of [...marks, ['end', t1]]) {
    const key = `${op} ${prev[0]} → ${m[0]}`;
    if (!steps.has(key)) steps.set(key, []);
    steps.get(key).push(m[1] - prev[1]);
    prev = m;
  }
  marks = [];
};

const stateDir = await mkdtemp('/tmp/wrenn-bench-pr-');
const network = new NetworkManager({ agentKey: KEY, cidr: '10.225.0.0/16', poolSize: 2 });
const cgroups = new CgroupManager({ group: `wrenn-${KEY}` });
const runtime = new NamespaceRuntime({
  stateDir,
  imageDir: process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images',
  network,
  cgroups,
  envd: { nodeBinary: process.execPath, bundleDir: join(here, '../services/envd/bundle') },
  checkpoint: mark,
});
const { ulid } = require('ulid');
const id = `sb_${ulid().toLowerCase()}`;
const spec = { sandboxId: id, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 256 };
const pauses = [];
const resumes = [];
let template;
try {
  await runtime.prepare();
  await runtime.recover();
  await runtime.create(spec);
  const { envdUrl, accessToken } = await runtime.endpoint(id);
  const envd = new EnvdClient(envdUrl, accessToken);
  // A few MB of user files, so the snapshot is not empty.
  await envd.exec({ cmd: 'sh', args: ['-c', 'head -c 4000000 /dev/urandom > /root/blob && mkdir -p /root/src && for i in $(seq 200); do echo $i > /root/src/f$i; done'], user: 'root' }, 30);
  envd.close();
  for (let i = 0; i < CYCLES; i++) {
    await new Promise((r) => setTimeout(r, 300)); // the slot pool refills between operations, as between users
    marks = [];
    let t0 = performance.now();
    await runtime.pause(id);
    let t1 = performance.now();
    pauses.push(t1 - t0);
    record('pause', t0, t1);
    await new Promise((r) => setTimeout(r, 300));
    t0 = performance.now();
    await runtime.resume(spec, `snap_${id}`);
    t1 = performance.now();
    resumes.push(t1 - t0);
    record('resume', t0, t1);
  }
  const t0 = performance.now();
  const tpl = `tpl_${ulid().toLowerCase()}`;
  const { sizeBytes } = await runtime.createTemplate(id, tpl, 'bench');
  template = { ms: performance.now() - t0, sizeBytes };
  await runtime.deleteTemplate(tpl);
} finally {
  await runtime.destroy(id).catch(() => undefined);
  await runtime.shutdown().catch(() => undefined);
  await network.stop({ removeHostRules: true }).catch(() => undefined);
  await cgroups.removeGroup().catch(() => undefined);
  await rm(stateDir, { recursive: true, force: true });
}
console.log(`pause (freeze → snapshot → resources released): ${fmt(pauses)}`);
console.log(`resume (snapshot → envd answering):              ${fmt(resumes)}`);
for (const [key, xs] of steps) console.log(`  ${key.padEnd(44)} p50 ${pct(xs, 50).toFixed(1)} ms`);
if (template) console.log(`template from a sandbox with ~4 MB of files: ${template.ms.toFixed(1)} ms, ${(template.sizeBytes / 1e6).toFixed(1)} MB`);

#!/usr/bin/env node
// The Firecracker runtime's own work per create / pause / resume, with a stand-in VMM (the
// fake API server as a process): real network slots with the guest TAP, the real launcher
// (the native helper's VMM jail, with per-VMM cgroups), the API calls, snapshot headers and the userfaultfd page server;
// device-mapper answered by a recording runner (no dm here) and no guest boots, so no envd wait.
// What a KVM host adds on top: guest boot (create), writing guest memory (pause), and page
// faults served while the guest runs (resume). Bounded: BENCH_FC_ROUNDS rounds (default 20).
// Needs root.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dist = '../services/host-agent/dist';
const { FirecrackerRuntime } = require(`${dist}/sandbox/firecracker/firecracker-sandboxes.js`);
const { SlotTapNetworks } = require(`${dist}/networking/index.js`);
const { MemorySnapshots } = require(`${dist}/runtime/firecracker/memory-snapshots.js`);
const { fakeFirecrackerRuntimeDirs, writeFakeFirecrackerBinary } = require('../services/host-agent/test-support/dist/fake-firecracker-binary.js');
const { CgroupManager } = require(`${dist}/cgroups/index.js`);
const { DmSnapshotStore } = require(`${dist}/rootfs/dm-snapshot.store.js`);
const { NetworkManager, addGuestTap } = require(`${dist}/networking/index.js`);
const { ulid } = require('ulid');

const ROUNDS = Number(process.env.BENCH_FC_ROUNDS ?? 20);
const KEY = `b${randomBytes(2).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'wrenn-bench-fc-'));
let loop = 100;
// A "created" device is a file the VMM's jail gets as its drive.
const runner = {
  run: async (file, args) => {
    if (file === 'dmsetup' && args[0] === 'create') writeFileSync(join(dir, 'mapper', args[1]), '');
    if (file === 'dmsetup' && args[0] === 'remove') rmSync(join(dir, 'mapper', args[1]), { force: true });
    return file === 'losetup' && args[0] === '--find' ? `/dev/loop${loop++}\n` : file === 'losetup' && args[0] === '--list' ? '{"loopdevices":[]}' : '';
  },
};

mkdirSync(join(dir, 'images/firecracker'), { recursive: true });
mkdirSync(join(dir, 'mapper'));
writeFileSync(join(dir, 'images/firecracker/base.ext4'), '');
truncateSync(join(dir, 'images/firecracker/base.ext4'), 64 << 20);
writeFileSync(join(dir, 'vmlinux'), 'kernel');
const slots = new NetworkManager({ agentKey: KEY, cidr: '10.234.0.0/16', poolSize: Number(process.env.BENCH_FC_POOL ?? 0), prepareSlot: addGuestTap });
const runtime = new FirecrackerRuntime({
  stateDir: join(dir, 'state'),
  imageDir: join(dir, 'images'),
  binary: await writeFakeFirecrackerBinary(join(dir, 'bin')),
  vmmRuntimeDirs: fakeFirecrackerRuntimeDirs(join(dir, 'bin')),
  cgroups: new CgroupManager({ group: `wrenn-${KEY}` }),
  kernelPath: join(dir, 'vmlinux'),
  network: new SlotTapNetworks(slots, true),
  rootfs: new DmSnapshotStore({ namePrefix: `wrenn-${KEY}-`, runner, deviceDir: join(dir, 'mapper') }),
  memory: new MemorySnapshots(),
  waitForEnvd: async () => {},
  initEnvd: async () => {},
  // The runtime logs each operation's step durations; collected here per operation and step.
  logger: {
    info: (o, msg) => {
      if (!o?.steps) return;
      const op = msg === 'sandbox paused' ? `pause (${o.type})` : msg.replace('sandbox ', '');
      for (const [step, ms] of Object.entries(o.steps)) ((steps[op] ??= {})[step] ??= []).push(ms);
    },
    warn: () => {},
    error: () => {},
  },
});
const steps = {};

const times = { create: [], 'pause (Full)': [], resume: [], 'pause (Diff)': [], destroy: [] };
const timed = async (name, fn) => {
  const t = performance.now();
  const r = await fn();
  times[name].push(performance.now() - t);
  return r;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

try {
  await runtime.prepare();
  await runtime.recover();
  for (let i = 0; i < ROUNDS; i++) {
    const spec = { sandboxId: `sb_${ulid().toLowerCase()}`, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 512 };
    await timed('create', () => runtime.create(spec));
    const full = await timed('pause (Full)', () => runtime.pause(spec.sandboxId));
    await timed('resume', () => runtime.resume(spec, full.snapshotRef));
    await timed('pause (Diff)', () => runtime.pause(spec.sandboxId));
    await timed('destroy', () => runtime.destroy(spec.sandboxId));
  }
  console.log(`firecracker runtime, host-side work with a stand-in VMM (${ROUNDS} rounds, 512 MiB guests, slot pool ${process.env.BENCH_FC_POOL ?? 0})`);
  for (const [name, xs] of Object.entries(times)) console.log(`  ${name.padEnd(13)} p50 ${pct(xs, 50).toFixed(1)} ms  p99 ${pct(xs, 99).toFixed(1)} ms`);
  console.log('  steps, p50 ms (vmm = the stand-in starting: a Node process loading the API spec):');
  const opName = { created: 'create', resumed: 'resume' };
  for (const [op, byStep] of Object.entries(steps)) {
    console.log(`    ${(opName[op] ?? op).padEnd(13)} ${Object.entries(byStep).map(([step, xs]) => `${step} ${pct(xs, 50).toFixed(1)}`).join(', ')}`);
  }
} catch (error) {
  // What the VMMs said (a stand-in that did not start explains itself there).
  execFileSync('sh', ['-c', `tail -n 5 ${dir}/state/firecracker/sandboxes/*/firecracker.log 1>&2 || true`], { stdio: 'inherit' });
  throw error;
} finally {
  for (const id of [...(await runtime.list()), ...(await runtime.listPaused())]) await runtime.destroy(id).catch(() => {});
  await runtime.shutdown().catch(() => {});
  await slots.stop({ removeHostRules: true }).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  const left = execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`wrenn-${KEY}-`));
  if (left.length) console.error(`left behind: ${left.join(', ')}`);
}

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupManager, SandboxCgroup } from './cgroup.manager';
import { detectCgroupVersion } from './cgroup-version';
import { diskUsageBytes } from './disk-usage';
import { EPERM, loadDeviceFilterInspection, probeInside, realDevice, waitFor, writeProbe } from '@wrenn/host-agent-test-support';
import { FORK_BOMB } from '@wrenn/testing';

const skip =
  detectCgroupVersion() === 'v1'
    ? false
    : 'this host mounts cgroup v2 at /sys/fs/cgroup, so the v1 controllers this suite drives are absent (the v2 layout is checked below and in cgroup.manager.v2.spec.ts)';
const GROUP = `wrenn-test-${randomBytes(3).toString('hex')}`;
const EAGAIN = 11;


/**
 * Runs `script` the way a sandbox's commands run: born in the sandbox cgroups, then moved into
 * its user groups — or, with `asEnvd`, left in the sandbox groups where envd itself runs.
 */
function runInside(cg: SandboxCgroup, script: string, timeoutMs = 20_000, asEnvd = false): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const join = 'for f in $WRENN_PROCS; do echo $$ > "$f"; done; for f in $WRENN_USER_PROCS; do echo $$ > "$f"; done; exec /bin/sh -c "$WRENN_SCRIPT"';
  const child = spawn('/bin/sh', ['-c', join], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', WRENN_PROCS: cg.procsFiles.join(' '), WRENN_USER_PROCS: asEnvd ? '' : cg.userProcsFiles.join(' '), WRENN_SCRIPT: script },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not finish in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe(`${CgroupManager.name} (root, cgroup v1)`, { skip }, () => {
  const cgroups = new CgroupManager({ group: GROUP });
  let n = 0;
  const made: string[] = [];
  const create = async (limits: { vcpus?: number; memoryMb?: number; pidsMax?: number } = {}) => {
    const id = `sb_test${String(n++).padStart(22, '0')}`;
    made.push(id);
    return { id, cg: await cgroups.create(id, { vcpus: limits.vcpus ?? 1, memoryMb: limits.memoryMb ?? 256, pidsMax: limits.pidsMax ?? 64 }) };
  };
  const pidsFile = (id: string, ...path: string[]) => readFile(join(realpathSync('/sys/fs/cgroup/pids'), GROUP, id, ...path), 'utf8');

  after(async () => {
    for (const id of made) await cgroups.remove(id).catch(() => undefined);
    await cgroups.removeGroup();
    for (const c of ['cpu', 'memory', 'pids', 'freezer', 'devices']) assert.ok(!existsSync(`/sys/fs/cgroup/${c}/${GROUP}`), `${c} group removed`);
  });

  it('OOM-kills a memory hog inside while this process lives on', async () => {
    const { id, cg } = await create({ memoryMb: 64 });
    const r = await runInside(cg, 'head -c 600m /dev/zero | tail');
    assert.ok(r.code === 137 || r.signal === 'SIGKILL', `killed: ${JSON.stringify(r)}`);
    assert.ok((await cgroups.stats(id)).oomKills >= 1);
  });

  it('refuses a fork past the pids limit while the forks live, and keeps envd a reserve', async () => {
    const { id, cg } = await create({ pidsMax: 16 });
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-forks-'));
    try {
      await writeFile(join(dir, 'bomb.pl'), FORK_BOMB);
      const bomb = runInside(cg, `exec perl ${dir}/bomb.pl ${dir} 1000`, 60_000);
      const result = await waitFor(() => readFile(join(dir, 'result'), 'utf8').catch(() => undefined), 30_000, 'the fork bomb to be refused a fork');
      const [children, errno] = result.trim().split(' ').map(Number);
      assert.equal(errno, EAGAIN, `the refused fork failed with EAGAIN (got errno ${errno} after ${children} children)`);
      // The bomb itself and its 15 live children hold the user group's 16 pids.
      assert.equal(children, 15);
      assert.equal((await pidsFile(id, 'user', 'pids.current')).trim(), '16');
      assert.match(await pidsFile(id, 'user', 'pids.events'), /^max [1-9]\d*$/m, 'the kernel counts the refusal');
      // envd sits above the user group with a reserve of its own: it can still fork.
      const envd = await runInside(cg, 'sh -c "true & wait" && echo forked', 20_000, true);
      assert.equal(envd.stdout, 'forked\n', envd.stderr);
      assert.match(await pidsFile(id, 'pids.events'), /^max 0$/m, "envd's group never hit its limit");
      await writeFile(join(dir, 'release'), '');
      const r = await bomb;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `started 15, errno ${EAGAIN}\n`);
      await cgroups.remove(id);
      assert.deepEqual((await cgroups.list()).includes(id), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('holds two busy loops to one vCPU', async () => {
    const { id, cg } = await create({ vcpus: 1 });
    const before = (await cgroups.stats(id)).cpuUsageUsec;
    const started = Date.now();
    await runInside(cg, '(timeout 1.5 sh -c "while :; do :; done" &) ; timeout 1.5 sh -c "while :; do :; done"; wait', 10_000);
    const wall = (Date.now() - started) * 1000;
    const used = (await cgroups.stats(id)).cpuUsageUsec - before;
    assert.ok(used / wall < 1.2, `used ${(used / wall).toFixed(2)} CPUs`);
  });

  it('weights CPU by vCPUs (cpu.shares), on create and on update', async () => {
    const cpuFile = (id: string) => readFile(join(realpathSync('/sys/fs/cgroup/cpu'), GROUP, id, 'cpu.shares'), 'utf8');
    const { id } = await create({ vcpus: 3 });
    assert.equal((await cpuFile(id)).trim(), String(3 * 1024));
    await cgroups.update(id, { vcpus: 1, memoryMb: 256, pidsMax: 64 });
    assert.equal((await cpuFile(id)).trim(), '1024');
  });

  it('freezes and thaws every process of the sandbox', async () => {
    const { id, cg } = await create();
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-freeze-'));
    const loop = (file: string) => `i=0; while :; do i=$((i+1)); echo $i > ${file}; sleep 0.01; done`;
    const count = async (file: string) => Number((await readFile(file, 'utf8').catch(() => '')).trim()) || 0;
    const inside = join(dir, 'inside');
    const outside = join(dir, 'outside');
    const run = runInside(cg, loop(inside), 120_000).catch(() => undefined);
    // The same loop outside the sandbox is the clock: however busy the machine, it advances while the frozen one must not.
    const control = spawn('/bin/sh', ['-c', loop(outside)], { stdio: 'ignore' });
    try {
      await waitFor(async () => (await count(inside)) > 0, 10_000, 'the loop inside to start');
      await cgroups.freeze(id);
      assert.equal(await cgroups.isFrozen(id), true);
      const frozenAt = await count(inside);
      const from = await count(outside);
      await waitFor(async () => (await count(outside)) >= from + 20, 30_000, 'the loop outside to run 20 rounds');
      assert.equal(await count(inside), frozenAt, 'no progress while frozen');
      await cgroups.thaw(id);
      await waitFor(async () => (await count(inside)) > frozenAt, 10_000, 'progress after thaw');
    } finally {
      control.kill('SIGKILL');
      await cgroups.remove(id);
      await run;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets the sandbox use its allowed devices and refuses a real device of this host', async (t) => {
    const device = realDevice();
    assert.ok(device, 'this host has a block device or /dev/kvm to try');
    const { cg } = await create();
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-dev-'));
    try {
      // The same device under another name, made outside: the test's own open of it shows the node works.
      const node = join(dir, 'node');
      execFileSync('mknod', [node, device.type, String(device.major), String(device.minor)]);
      closeSync(openSync(node, 'r'));
      const r = await runInside(
        cg,
        [
          'printf x > /dev/null && echo null-writable',
          'head -c 4 /dev/null | wc -c',
          'head -c 4 /dev/urandom | wc -c',
          `(exec 3< ${device.path}) 2>&1 && echo "opened ${device.path}"`,
          `(exec 3< ${node}) 2>&1 && echo "opened ${node}"`,
          'true',
        ].join('; '),
      );
      const checked = `checked ${device.path} (${device.type} ${device.major}:${device.minor})`;
      t.diagnostic(checked);
      const lines = r.stdout.split('\n');
      assert.deepEqual(lines.slice(0, 3), ['null-writable', '0', '4'], `the allowed devices work: ${r.stdout}`);
      // EPERM is the devices cgroup's answer; a missing node or a nodev mount would say otherwise.
      assert.match(lines[3], new RegExp(`cannot open ${device.path}: Operation not permitted$`), checked);
      assert.match(lines[4], new RegExp(`cannot open ${node}: Operation not permitted$`), checked);
      assert.equal(lines.length, 6, r.stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The v2 layout on this kernel's v2 hierarchy. Where it has cpu, memory and pids, a sandbox is made
 * with the real device filter and held to it; our hosts are hybrid (the controllers bound to v1, the
 * v2 hierarchy holding none), and there it must refuse rather than make sandboxes without limits.
 * The device filter itself is tested on this hierarchy in bpf-device-filter.host.spec.ts.
 */
describe(`${CgroupManager.name} on this kernel's cgroup v2 hierarchy`, () => {
  const mounted = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find(([, , type]) => type === 'cgroup2')?.[1];
  let root = mounted ?? '';
  let ownMount = '';

  before(async () => {
    if (root) return;
    ownMount = await mkdtemp(join(tmpdir(), 'wrenn-cg2-'));
    execFileSync('mount', ['-t', 'cgroup2', 'none', ownMount]);
    root = ownMount;
  });
  after(async () => {
    if (!ownMount) return;
    execFileSync('umount', [ownMount]);
    await rm(ownMount, { recursive: true, force: true });
  });

  const available = () => readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  const missing = () => ['cpu', 'memory', 'pids'].filter((c) => !available().includes(c));

  it('refuses without a device filter', async () => {
    const cgroups = new CgroupManager({ group: GROUP, version: 'v2', root, deviceFilter: null });
    await assert.rejects(cgroups.create('sb_v2', { vcpus: 1, memoryMb: 64, pidsMax: 16 }), (e: { code?: string; details?: { reason?: string } }) => e.details?.reason === 'no_device_filter');
    assert.ok(!existsSync(join(root, GROUP)), 'nothing made');
  });

  it('refuses where cpu, memory or pids is not available to it, and says which', async (t) => {
    if (missing().length === 0) return t.skip(`the v2 hierarchy at ${root} has cpu, memory and pids: nothing to refuse here`);
    // The default device filter (BPF) would attach here: the missing controllers alone refuse.
    const cgroups = new CgroupManager({ group: GROUP, version: 'v2', root });
    await assert.rejects(cgroups.create('sb_v2', { vcpus: 1, memoryMb: 64, pidsMax: 16 }), (e: { details?: { reason?: string; missing?: string[] } }) => {
      assert.deepEqual(e.details, { reason: 'missing_controllers', missing: missing() });
      return true;
    });
    t.diagnostic(`v2 at ${root} offers "${available().join(' ')}"; refused for lack of ${missing().join(', ')}`);
    assert.ok(!existsSync(join(root, GROUP)), 'nothing made, so no device program attached');
  });

  it('makes a sandbox held to the allowlist by the real device filter, and frees the program with it', async (t) => {
    if (missing().length > 0) {
      return t.skip(`the v2 hierarchy at ${root} lacks ${missing().join(', ')} (bound to v1 on this host): a v2 sandbox cannot be made here; bpf-device-filter.host.spec.ts tests the filter on this hierarchy`);
    }
    const device = realDevice();
    assert.ok(device, 'this host has /dev/kvm or a block device this test can open');
    const inspect = loadDeviceFilterInspection();
    const cgroups = new CgroupManager({ group: GROUP, version: 'v2', root });
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-v2-dev-'));
    try {
      const cg = await cgroups.create('sb_v2', { vcpus: 1, memoryMb: 64, pidsMax: 16 });
      const ids = inspect.attachedDevicePrograms(join(root, GROUP, 'sb_v2'));
      assert.equal(ids.length, 1, 'one device program on the sandbox group');
      const probe = await writeProbe(dir);
      t.diagnostic(`checked ${device.path} (${device.type} ${device.major}:${device.minor})`);
      // envd's leaf and the user's leaf alike.
      for (const procs of [cg.procsFiles[0], cg.userProcsFiles[0]]) {
        const r = await probeInside(procs, probe, ['null|write|/dev/null', 'urandom|read|/dev/urandom', `device|read|${device.path}`]);
        assert.deepEqual(Object.fromEntries(r), { null: 'ok 1', urandom: 'ok 4', device: `errno ${EPERM}` }, procs);
      }
      await cgroups.remove('sb_v2');
      await cgroups.removeGroup();
      assert.ok(!existsSync(join(root, GROUP)), 'nothing left');
      await waitFor(() => !inspect.bpfProgramExists(ids[0]), 10_000, 'the device program to be freed with the sandbox');
    } finally {
      await cgroups.remove('sb_v2').catch(() => undefined);
      await cgroups.removeGroup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('diskUsageBytes', () => {
  it('counts allocated blocks, so a sparse file counts what it holds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-du-'));
    const fd = openSync(join(dir, 'sparse'), 'w');
    ftruncateSync(fd, 1 << 30);
    writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 0);
    closeSync(fd);
    const used = await diskUsageBytes(dir);
    assert.ok(used >= 4096 && used < 1 << 20, `used ${used}`);
    await rm(dir, { recursive: true, force: true });
  });
});

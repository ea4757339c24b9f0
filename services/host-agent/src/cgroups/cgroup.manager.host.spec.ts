import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, ftruncateSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupManager, SandboxCgroup } from './cgroup.manager';
import { detectCgroupVersion } from './cgroup-version';
import { diskUsageBytes } from './disk-usage';

const skip = detectCgroupVersion() !== 'v1' ? 'exercises the v1 layout this host mounts' : false;
const GROUP = `wrenn-test-${randomBytes(3).toString('hex')}`;

/** Runs `script` the way a sandbox's commands run: born in the sandbox cgroups, then moved into its user groups. */
function runInside(cg: SandboxCgroup, script: string, timeoutMs = 20_000): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const join = 'for f in $WRENN_PROCS; do echo $$ > "$f"; done; for f in $WRENN_USER_PROCS; do echo $$ > "$f"; done; exec /bin/sh -c "$WRENN_SCRIPT"';
  const child = spawn('/bin/sh', ['-c', join], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', WRENN_PROCS: cg.procsFiles.join(' '), WRENN_USER_PROCS: cg.userProcsFiles.join(' '), WRENN_SCRIPT: script },
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

  it('stops a fork bomb at the pids limit', async () => {
    const { id, cg } = await create({ pidsMax: 16 });
    const r = await runInside(cg, 'i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); echo $i > /dev/null; done; echo "started $i"');
    assert.doesNotMatch(r.stdout, /started 50/);
    assert.match(r.stderr, /fork/i);
    assert.ok((await cgroups.stats(id)).pids <= 16 + 64);
    await cgroups.remove(id);
    assert.deepEqual((await cgroups.list()).includes(id), false);
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

  it('freezes and thaws every process of the sandbox', async () => {
    const { id, cg } = await create();
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-freeze-'));
    const counter = join(dir, 'count');
    const run = runInside(cg, `i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo $i > ${counter}; sleep 0.01; done`, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    await cgroups.freeze(id);
    const frozenAt = await readFile(counter, 'utf8');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await readFile(counter, 'utf8'), frozenAt, 'no progress while frozen');
    await cgroups.thaw(id);
    await new Promise((r) => setTimeout(r, 300));
    assert.notEqual(await readFile(counter, 'utf8'), frozenAt, 'progress after thaw');
    await cgroups.remove(id);
    await run.catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses block devices: a node made inside cannot be opened', async () => {
    const { cg } = await create();
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-dev-'));
    const r = await runInside(cg, `mknod ${dir}/disk b 254 0 2>&1 && head -c 1 ${dir}/disk >/dev/null 2>&1 && echo opened || echo refused; head -c 1 /dev/urandom | wc -c`);
    assert.match(r.stdout, /refused/);
    assert.match(r.stdout, /^1$/m, 'allowed devices still work');
    await rm(dir, { recursive: true, force: true });
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

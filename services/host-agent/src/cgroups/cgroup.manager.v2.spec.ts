import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALLOWED_DEVICES, CgroupManager, DeviceFilter } from './cgroup.manager';

/**
 * What the v2 layout writes, file by file. Our hosts mount v2 only as an empty hybrid hierarchy
 * whose controllers are bound to v1 (cgroup.manager.host.spec.ts checks that v2 refuses there), so
 * the files are checked against a plain directory standing in for /sys/fs/cgroup, with a stand-in
 * device filter that records what it was asked to attach. The real one (BpfDeviceFilter, the
 * default) is tested against this kernel in bpf-device-filter.host.spec.ts.
 */
describe('CgroupManager on a cgroup v2 layout (what it writes)', () => {
  const MiB = 1024 * 1024;
  const ID = 'sb_v2test';
  let root = '';
  let attached: { dir: string; rules: readonly string[] }[] = [];
  const filter: DeviceFilter = { attach: async (dir, rules) => void attached.push({ dir, rules }) };
  const read = (...path: string[]) => readFile(join(root, ...path), 'utf8');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'wrenn-cg2-'));
    await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    attached = [];
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('refuses without a device filter, before it makes anything', async () => {
    const cgroups = new CgroupManager({ group: 'wrenn-t', version: 'v2', root, deviceFilter: null });
    await assert.rejects(cgroups.create(ID, { vcpus: 1, memoryMb: 256, pidsMax: 64 }), (e: { code?: string; details?: { reason?: string } }) => {
      assert.equal(e.code, 'not_implemented');
      assert.equal(e.details?.reason, 'no_device_filter');
      return true;
    });
    assert.deepEqual((await readdir(root)).sort(), ['cgroup.controllers']);
  });

  it('attaches the BPF device filter by default, and refuses where it cannot be attached (here: a directory that is no cgroup)', async () => {
    const cgroups = new CgroupManager({ group: 'wrenn-t', version: 'v2', root });
    const error = await cgroups.create(ID, { vcpus: 1, memoryMb: 256, pidsMax: 64 }).then(
      () => assert.fail('created a sandbox whose device filter was never attached'),
      (e: unknown) => e,
    );
    // The rollback's rmdir meets the files written into the stand-in directories: the refusal is the first error.
    const refusal = (error instanceof AggregateError ? error.errors[0] : error) as { code?: string; details?: { reason?: string; cause?: string }; message: string };
    assert.equal(refusal.code, 'not_implemented', refusal.message);
    assert.equal(refusal.details?.reason, 'no_device_filter');
    // bpf(2) answered: EBADF as root (the attach target is no cgroup), EPERM at the load without
    // the privilege; or, on a machine without a compiler, there is no addon to ask.
    assert.ok(['EBADF', 'EPERM', 'MODULE_NOT_FOUND'].includes(refusal.details?.cause ?? ''), refusal.message);
  });

  it('refuses where the cpu, memory or pids controller is not available (a hybrid host)', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'hugetlb\n');
    const cgroups = new CgroupManager({ group: 'wrenn-t', version: 'v2', root, deviceFilter: filter });
    await assert.rejects(cgroups.create(ID, { vcpus: 1, memoryMb: 256, pidsMax: 64 }), (e: { details?: { reason?: string; missing?: string[] } }) => {
      assert.deepEqual(e.details, { reason: 'missing_controllers', missing: ['cpu', 'memory', 'pids'] });
      return true;
    });
    assert.deepEqual(attached, []);
  });

  it('splits the sandbox into an envd leaf and a user leaf: the limits on the user leaf, envd reserve on the sandbox', async () => {
    const cgroups = new CgroupManager({ group: 'wrenn-t', version: 'v2', root, deviceFilter: filter });
    const cg = await cgroups.create(ID, { vcpus: 2, memoryMb: 256, pidsMax: 64 });
    const sandbox = join(root, 'wrenn-t', ID);
    assert.deepEqual(cg, { procsFiles: [join(sandbox, 'envd', 'cgroup.procs')], userProcsFiles: [join(sandbox, 'user', 'cgroup.procs')] });
    for (const dir of [[], ['wrenn-t'], ['wrenn-t', ID]]) assert.equal(await read(...dir, 'cgroup.subtree_control'), '+cpu +memory +pids', dir.join('/'));
    assert.equal(await read('wrenn-t', ID, 'cpu.max'), '200000 100000');
    // Shared by weight in proportion to the vCPUs (100 is one vCPU's, the kernel's default).
    assert.equal(await read('wrenn-t', ID, 'cpu.weight'), '200');
    // The sandbox as a whole: the limits plus what envd keeps for itself.
    assert.equal(await read('wrenn-t', ID, 'memory.max'), String((256 + 128) * MiB));
    assert.equal(await read('wrenn-t', ID, 'pids.max'), String(64 + 64));
    // The user's commands: exactly the limits asked for.
    assert.equal(await read('wrenn-t', ID, 'user', 'memory.max'), String(256 * MiB));
    assert.equal(await read('wrenn-t', ID, 'user', 'pids.max'), '64');
    assert.deepEqual(await readdir(join(sandbox, 'envd')), [], 'envd has no limits of its own: it lives off the reserve');
    // One device program, on the sandbox's group (envd and the user's commands alike), with the v1 allowlist.
    assert.deepEqual(attached, [{ dir: sandbox, rules: ALLOWED_DEVICES }]);
    assert.ok(ALLOWED_DEVICES.every((rule) => rule.startsWith('c ')), 'no block device is allowed');
  });

  it('update rewrites the same files, and stats reads the user leaf', async () => {
    const cgroups = new CgroupManager({ group: 'wrenn-t', version: 'v2', root, deviceFilter: filter });
    await cgroups.create(ID, { vcpus: 1, memoryMb: 256, pidsMax: 64 });
    await cgroups.update(ID, { vcpus: 1, memoryMb: 512, pidsMax: 100 });
    assert.equal(await read('wrenn-t', ID, 'memory.max'), String((512 + 128) * MiB));
    assert.equal(await read('wrenn-t', ID, 'pids.max'), '164');
    assert.equal(await read('wrenn-t', ID, 'user', 'memory.max'), String(512 * MiB));
    assert.equal(await read('wrenn-t', ID, 'user', 'pids.max'), '100');
    await writeFile(join(root, 'wrenn-t', ID, 'user', 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    await writeFile(join(root, 'wrenn-t', ID, 'pids.current'), '7\n');
    const stats = await cgroups.stats(ID);
    assert.equal(stats.memoryLimitBytes, 512 * MiB);
    assert.equal(stats.oomKills, 1);
    assert.equal(stats.pids, 7);
    assert.ok(existsSync(join(root, 'wrenn-t', ID, 'envd')));
  });
});

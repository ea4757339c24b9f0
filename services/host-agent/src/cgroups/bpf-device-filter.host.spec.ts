import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfDeviceFilter } from './bpf-device-filter';
import { ALLOWED_DEVICES } from './cgroup.manager';
import { EPERM, loadDeviceFilterInspection, probeInside, realDevice, waitFor, writeProbe } from '@wrenn/host-agent-test-support';

/**
 * The v2 device filter against this kernel. Our hosts are hybrid (v1 controllers, an empty v2
 * hierarchy), but cgroup BPF programs attach on the v2 hierarchy whatever its controllers, and the
 * kernel asks them on every device open: so the filter is tested for real, on a group of its own.
 */
describe(`${BpfDeviceFilter.name} (root, this kernel's cgroup v2 hierarchy)`, () => {
  const inspect = loadDeviceFilterInspection();
  const mounted = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find(([, , type]) => type === 'cgroup2')?.[1];
  let root = mounted ?? '';
  let ownMount = '';
  let tmp = '';
  let probe = '';
  const GROUP = `wrenn-test-devices-${randomBytes(3).toString('hex')}`;
  const made: string[] = [];
  let n = 0;

  /** A fresh group under the test's parent group. */
  const group = async () => {
    const dir = join(root, GROUP, `g${n++}`);
    await mkdir(dir);
    made.push(dir);
    return dir;
  };
  /** Removes a group once its processes are gone (rmdir says EBUSY until the kernel has let go of them). */
  const removeGroup = (dir: string) =>
    waitFor(
      () =>
        rmdir(dir).then(
          () => true,
          (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? true : e.code === 'EBUSY' ? false : Promise.reject(e)),
        ),
      10_000,
      `rmdir ${dir}`,
    );

  before(async () => {
    if (!root) {
      ownMount = await mkdtemp(join(tmpdir(), 'wrenn-cg2-'));
      execFileSync('mount', ['-t', 'cgroup2', 'none', ownMount]);
      root = ownMount;
    }
    await mkdir(join(root, GROUP));
    tmp = await mkdtemp(join(tmpdir(), 'wrenn-devnodes-'));
    probe = await writeProbe(tmp);
  });
  after(async () => {
    for (const dir of made.reverse()) await removeGroup(dir).catch(() => undefined);
    await rmdir(join(root, GROUP)).catch(() => undefined);
    assert.ok(!existsSync(join(root, GROUP)), 'test group removed');
    await rm(tmp, { recursive: true, force: true });
    if (ownMount) {
      execFileSync('umount', [ownMount]);
      await rm(ownMount, { recursive: true, force: true });
    }
  });

  it('lets a process of the group use exactly the allowlist: allowed devices work, a real device and a disallowed node are refused, then nothing is left', async (t) => {
    const device = realDevice();
    assert.ok(device, 'this host has /dev/kvm or a block device this test can open');
    // Nodes made outside the group, each opened here first: a refusal inside is the filter's.
    const twin = (name: string, type: string, major: number, minor: number) => {
      const path = join(tmp, name);
      execFileSync('mknod', [path, type, String(major), String(minor)]);
      closeSync(openSync(path, 'r'));
      return path;
    };
    const nullTwin = twin('null-twin', 'c', 1, 3);
    const kmsgTwin = twin('kmsg-twin', 'c', 1, 11); // /dev/kmsg's numbers: not in the allowlist
    const deviceTwin = twin('device-twin', device.type, device.major, device.minor);
    const dir = await group();
    await new BpfDeviceFilter().attach(dir, ALLOWED_DEVICES);
    const [id] = inspect.attachedDevicePrograms(dir);
    assert.equal(inspect.attachedDevicePrograms(dir).length, 1, 'one program on the group');
    assert.ok(inspect.bpfProgramExists(id));

    const r = await probeInside(join(dir, 'cgroup.procs'), probe, [
      'null-read|read|/dev/null',
      'null-write|write|/dev/null',
      'urandom-read|read|/dev/urandom',
      'device-read|read|' + device.path,
      'null-twin-write|write|' + nullTwin,
      'kmsg-twin-read|read|' + kmsgTwin,
      'device-twin-read|read|' + deviceTwin,
      `mknod-allowed|mknod|${join(tmp, 'inside-null')}|c|1|3`,
      `mknod-refused|mknod|${join(tmp, 'inside-kmsg')}|c|1|11`,
    ]);
    t.diagnostic(`checked ${device.path} (${device.type} ${device.major}:${device.minor}) and nodes c 1:3, c 1:11 under ${tmp}`);
    assert.deepEqual(Object.fromEntries(r), {
      'null-read': 'ok 0',
      'null-write': 'ok 1',
      'urandom-read': 'ok 4',
      'device-read': `errno ${EPERM}`,
      'null-twin-write': 'ok 1',
      'kmsg-twin-read': `errno ${EPERM}`,
      'device-twin-read': `errno ${EPERM}`,
      'mknod-allowed': 'ok',
      'mknod-refused': `errno ${EPERM}`,
    });
    assert.ok(statSync(join(tmp, 'inside-null')).isCharacterDevice(), 'the allowed mknod made its node');
    assert.ok(!existsSync(join(tmp, 'inside-kmsg')), 'the refused mknod made nothing');

    // The program lives as long as the group: removing the group frees it.
    await removeGroup(dir);
    assert.ok(!existsSync(dir), 'group removed');
    await waitFor(() => !inspect.bpfProgramExists(id), 10_000, `program ${id} to be freed with its group`);
  });

  it('holds each device to the access its rule names', async () => {
    const dir = await group();
    await new BpfDeviceFilter().attach(dir, ['c 1:3 r', 'c 1:9 rwm']);
    const r = await probeInside(join(dir, 'cgroup.procs'), probe, ['null-read|read|/dev/null', 'null-write|write|/dev/null', 'urandom-write|write|/dev/urandom', 'zero-read|read|/dev/zero']);
    assert.deepEqual(Object.fromEntries(r), { 'null-read': 'ok 0', 'null-write': `errno ${EPERM}`, 'urandom-write': 'ok 1', 'zero-read': `errno ${EPERM}` });
  });

  it('is accepted by the verifier for every shape of rule: none, wildcards, block, "a"', async () => {
    for (const rules of [[], ['c *:* r'], ['b 254:* m', 'c 136:* rw'], ['a'], ['c 1:3 rwm', 'a']]) {
      const dir = await group();
      await new BpfDeviceFilter().attach(dir, rules);
      assert.equal(inspect.attachedDevicePrograms(dir).length, 1, JSON.stringify(rules));
    }
    // And the extremes answer as they say: nothing at all, or everything.
    const none = await group();
    await new BpfDeviceFilter().attach(none, []);
    const all = await group();
    await new BpfDeviceFilter().attach(all, ['a']);
    assert.deepEqual(Object.fromEntries(await probeInside(join(none, 'cgroup.procs'), probe, ['null|read|/dev/null'])), { null: `errno ${EPERM}` });
    assert.deepEqual(Object.fromEntries(await probeInside(join(all, 'cgroup.procs'), probe, ['null|read|/dev/null'])), { null: 'ok 0' });
  });

  it('fails with the errno where the directory is no cgroup', async () => {
    await assert.rejects(new BpfDeviceFilter().attach(tmp, ALLOWED_DEVICES), (e: NodeJS.ErrnoException) => e.code === 'EBADF' && /BPF_PROG_ATTACH/.test(e.message));
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupManager } from '../../cgroups';
import { idRangeOf } from '../namespace/sandbox-hardening';
import { FirecrackerClient } from './firecracker.client';
import { fakeFirecrackerRuntimeDirs, SPEC_MISSING, writeFakeFirecrackerBinary } from '@wrenn/host-agent-test-support';
import { jailDirOf, vmmDeviceRules, VmmJailRequest } from './vmm-jail';
import { isVmmAlive, launchVmm, stopVmm, VmmProcess } from './vmm-process';

const TAG = randomBytes(2).toString('hex');
const NETNS = `wrenn-vt${TAG}`;
const HOST_ID = idRangeOf(7).hostRoot;

/** A /proc/<pid>/status field's values. */
const status = (pid: number, field: string) => new RegExp(`^${field}:[ \\t]*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1].trim().split(/\s+/).filter(Boolean) ?? [];
const inode = (path: string) => statSync(path).ino;

describe('VMM jail: the helper jails a stand-in Firecracker (root, kernel)', { skip: SPEC_MISSING }, () => {
  let dir: string;
  let binary: string;
  let loop = '';
  let cgroups: CgroupManager;
  const launched: VmmProcess[] = [];
  /** Held open by this process (the "agent") while it launches: none of it may reach a VMM. */
  let agentFile = -1;
  let agentListener: Server;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-vmm-'));
    binary = await writeFakeFirecrackerBinary(join(dir, 'bin'));
    await writeFile(join(dir, 'vmlinux'), 'kernel');
    // A real block device as the root drive: the jail gets its own node of it.
    await writeFile(join(dir, 'drive.img'), '');
    await truncate(join(dir, 'drive.img'), 1024 * 1024);
    loop = execFileSync('losetup', ['--find', '--show', join(dir, 'drive.img')]).toString().trim();
    execFileSync('ip', ['netns', 'add', NETNS]);
    cgroups = new CgroupManager({ group: `wrenn-vt${TAG}` });
    agentFile = openSync(join(dir, 'agent-secret'), 'w');
    agentListener = createServer().listen(join(dir, 'agent.sock'));
  });
  after(async () => {
    for (const p of launched) await stopVmm(p);
    for (const name of ['a', 'b', 'c', 'd']) await cgroups.remove(`sb_${name}`).catch(() => undefined);
    await cgroups.removeGroup().catch(() => undefined);
    execFileSync('ip', ['netns', 'del', NETNS]);
    if (loop) execFileSync('losetup', ['--detach', loop]);
    closeSync(agentFile);
    agentListener.close();
    await rm(dir, { recursive: true, force: true });
  });

  const request = async (name: string, drive: string): Promise<VmmJailRequest> => {
    const sandboxDir = join(dir, 'sandboxes', name);
    await mkdir(sandboxDir, { recursive: true, mode: 0o700 });
    const cgroup = await cgroups.create(`sb_${name}`, { vcpus: 1, memoryMb: 256, pidsMax: 64, allowDevices: vmmDeviceRules(drive) });
    return {
      binary,
      sandboxId: `sb_${name}`,
      sandboxDir,
      hostId: HOST_ID,
      cgroupProcs: cgroup.procsFiles,
      netnsPath: `/var/run/netns/${NETNS}`,
      kernelPath: join(dir, 'vmlinux'),
      stableDir: '/run/wrenn/fc-vm',
      rootfsDevice: drive,
      runtimeDirs: fakeFirecrackerRuntimeDirs(join(dir, 'bin')),
    };
  };
  const launch = async (r: VmmJailRequest) => {
    const p = await launchVmm(r);
    launched.push(p);
    await new FirecrackerClient(p.apiSocket).waitReady(10_000, () => isVmmAlive(p));
    return p;
  };

  it('runs the VMM as the slot\'s unprivileged id, with no capability and no_new_privs', async () => {
    const p = await launch(await request('a', loop));
    assert.deepEqual(status(p.pid, 'Uid'), Array(4).fill(String(HOST_ID)));
    assert.deepEqual(status(p.pid, 'Gid'), Array(4).fill(String(HOST_ID)));
    assert.deepEqual(status(p.pid, 'Groups'), []);
    for (const caps of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) assert.equal(BigInt(`0x${status(p.pid, caps)[0]}`), 0n, caps);
    assert.deepEqual(status(p.pid, 'NoNewPrivs'), ['1']);
    const argv = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8')).split('\0');
    assert.ok(!argv.includes('--no-seccomp') && !argv.includes('--seccomp-filter'), "Firecracker's own seccomp filters stay on");
  });

  it('pivots it into the jail under the sandbox dir, holding only what a VMM needs', async () => {
    const p = launched[0];
    const jail = jailDirOf(join(dir, 'sandboxes', 'a'));
    assert.equal(inode(`/proc/${p.pid}/root`), inode(jail), '/proc/<pid>/root is the jail');
    assert.equal(statSync(`/proc/${p.pid}/root`).dev, statSync(jail).dev);
    const root = `/proc/${p.pid}/root`;
    assert.ok(!existsSync(`${root}/proc`) && !existsSync(`${root}/sys`) && !existsSync(`${root}/etc`), 'no /proc, /sys or /etc of the host');
    assert.ok(!existsSync(`${root}${join(dir, 'agent-secret')}`) && !existsSync(`${root}${join(dir, 'drive.img')}`), 'nothing of the test dir but the bin dir');
    // Its own device nodes, its id's alone: KVM and TUN (made, not bound), the drive at the stable path.
    const node = (path: string) => statSync(`${root}${path}`);
    const drive = node('/run/wrenn/fc-vm/rootfs.ext4');
    assert.ok(drive.isBlockDevice());
    assert.equal(drive.rdev, statSync(loop).rdev, 'the drive node is the loop device');
    for (const s of [drive, node('/dev/net/tun'), ...(existsSync('/dev/kvm') ? [node('/dev/kvm')] : [])]) {
      assert.equal(s.uid, HOST_ID);
      assert.equal(s.mode & 0o777, 0o600);
    }
    assert.deepEqual(readdirSync(`${root}/dev`).sort(), ['kvm', 'net', 'userfaultfd'].filter((d) => d === 'net' || existsSync(`/dev/${d}`)));
    assert.equal(readFileSync(`${root}/boot/vmlinux`, 'utf8'), 'kernel');
    assert.equal(statSync(`${root}/api`).uid, HOST_ID);
    assert.deepEqual(readdirSync(join(dir, 'sandboxes/a/jail/run/wrenn/fc-vm')), [], "the host's side of the jail holds no device node");
  });

  it('puts it in a pid namespace of its own (as its PID 1), the slot netns and its cgroups', async () => {
    const p = launched[0];
    assert.notEqual(inode(`/proc/${p.pid}/ns/pid`), inode('/proc/self/ns/pid'));
    assert.deepEqual(status(p.pid, 'NSpid'), [String(p.pid), '1']);
    assert.notEqual(inode(`/proc/${p.pid}/ns/mnt`), inode('/proc/self/ns/mnt'));
    assert.equal(inode(`/proc/${p.pid}/ns/net`), inode(`/var/run/netns/${NETNS}`));
    const groups = readFileSync(`/proc/${p.pid}/cgroup`, 'utf8');
    for (const controller of ['memory', 'pids', 'cpu', 'devices']) {
      assert.match(groups, new RegExp(`^\\d+:[^:]*\\b${controller}\\b[^:]*:/wrenn-vt${TAG}/sb_a$`, 'm'), controller);
    }
  });

  it('holds no fd of the agent: stdin /dev/null, stdout and stderr its log, nothing the agent holds', async () => {
    const p = launched[0];
    const targets = (pid: number | 'self') => new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } }).filter((t) => t && !t.startsWith('anon_inode:')));
    // Sockets and pipes are named by inode, files by path: a shared one would show here (an
    // anon_inode name such as [eventpoll] names a kind, not an object, and is left out).
    const agent = targets('self');
    assert.ok([...agent].some((t) => t.endsWith('agent-secret')) && [...agent].some((t) => t.startsWith('socket:')), 'the agent holds a file and sockets');
    const shared = [...targets(p.pid)].filter((t) => agent.has(t));
    assert.deepEqual(shared, [], 'no open file of the agent reached the VMM');
    assert.equal(readlinkSync(`/proc/${p.pid}/fd/0`), '/null', '/dev/null, opened before the pivot');
    assert.equal(readlinkSync(`/proc/${p.pid}/fd/1`), p.logPath);
    assert.equal(readlinkSync(`/proc/${p.pid}/fd/2`), p.logPath);
  });

  it('answers on its API socket at the host path inside the jail', async () => {
    const p = launched[0];
    assert.equal(p.apiSocket, join(dir, 'sandboxes/a/jail/api/fc.sock'));
    assert.ok(statSync(p.apiSocket).isSocket());
    assert.equal(statSync(p.apiSocket).uid, HOST_ID, 'made by the VMM itself');
    assert.equal((await new FirecrackerClient(p.apiSocket).describe()).state, 'Not started');
  });

  it('takes a file-backed drive as the VMM\'s own file', async () => {
    const file = join(dir, 'drive-b.img');
    await writeFile(file, 'drive');
    const p = await launch(await request('b', file));
    assert.equal(statSync(file).uid, HOST_ID);
    assert.equal(readFileSync(`/proc/${p.pid}/root/run/wrenn/fc-vm/rootfs.ext4`, 'utf8'), 'drive');
  });

  it('refuses a plan that would run it as root, naming the step', async () => {
    const r = { ...(await request('d', loop)), hostId: 0 };
    await assert.rejects(launchVmm(r), /never runs as host id 0/);
  });

  it('outlives the process that launched it, is re-adopted by pid + start time, and is stopped', async () => {
    const r = await request('c', join(dir, 'drive-b.img'));
    // A separate, short-lived "agent" launches it and exits.
    const script = `require(${JSON.stringify(join(__dirname, 'vmm-process.js'))}).launchVmm(${JSON.stringify(r)}).then((p) => process.stdout.write(JSON.stringify(p)))`;
    const p = JSON.parse(execFileSync(process.execPath, ['-e', script]).toString()) as VmmProcess;
    launched.push(p);
    await new FirecrackerClient(p.apiSocket).waitReady(10_000, () => isVmmAlive(p));
    assert.ok(await isVmmAlive(p), 'alive after its launcher exited');
    assert.equal(await isVmmAlive({ pid: p.pid, startTime: '1' }), false, 'a pid with another start time is not ours');
    await stopVmm(p);
    assert.equal(await isVmmAlive(p), false);
    await stopVmm(p); // stopping what is gone is fine
  });
});

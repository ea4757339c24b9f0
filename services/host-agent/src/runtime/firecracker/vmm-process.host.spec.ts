import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirecrackerClient } from './firecracker.client';
import { writeFakeFirecrackerBinary } from './testing/fake-firecracker-binary';
import { isVmmAlive, launchVmm, stopVmm, VmmProcess } from './vmm-process';

const NETNS = `wrenn-vt${randomBytes(2).toString('hex')}`;

describe('VMM launcher with a stand-in Firecracker (root, kernel)', () => {
  let dir: string;
  let binary: string;
  let stableDir: string;
  const launched: VmmProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-vmm-'));
    binary = await writeFakeFirecrackerBinary(dir);
    stableDir = join(dir, 'stable');
    execFileSync('ip', ['netns', 'add', NETNS]);
  });
  after(async () => {
    for (const p of launched) await stopVmm(p);
    execFileSync('ip', ['netns', 'del', NETNS]);
    await rm(dir, { recursive: true, force: true });
  });

  const launch = async (name: string) => {
    const sandboxDir = join(dir, name);
    execFileSync('mkdir', ['-p', sandboxDir]);
    const p = await launchVmm({ binary, sandboxId: `sb_${name}`, dir: sandboxDir, netnsName: NETNS, stableDir, rootfsDevice: `/dev/mapper/wrenn-test-${name}` });
    launched.push(p);
    await new FirecrackerClient(p.apiSocket).waitReady(10_000, () => isVmmAlive(p));
    return { p, sandboxDir };
  };

  it("runs the VMM in the slot's netns with its API socket and log in the sandbox dir", async () => {
    const { p, sandboxDir } = await launch('a');
    assert.equal(p.apiSocket, join(sandboxDir, 'firecracker.sock'));
    assert.ok(statSync(p.apiSocket).isSocket());
    const info = await new FirecrackerClient(p.apiSocket).describe();
    assert.equal(info.state, 'Not started');
    const inode = (path: string) => statSync(path).ino;
    assert.equal(inode(`/proc/${p.pid}/ns/net`), inode(`/var/run/netns/${NETNS}`), 'inside the slot netns');
    assert.notEqual(inode(`/proc/${p.pid}/ns/mnt`), inode('/proc/self/ns/mnt'), 'in a mount namespace of its own');
    const argv = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8')).split('\0');
    assert.ok(argv.includes('--api-sock') && argv.includes(p.apiSocket));
    assert.ok(argv.includes('sb-a'), 'the instance id is the sandbox id in Firecracker\'s alphabet');
    assert.match(await readFile(p.logPath, 'utf8'), /serving/);
  });

  it('shows the root drive at the same path to every VMM, each pointing at its own device', async () => {
    const { p: a } = launched.length ? { p: launched[0] } : await launch('a');
    const { p: b } = await launch('b');
    assert.equal(await readlink(`/proc/${a.pid}/root${stableDir}/rootfs.ext4`), '/dev/mapper/wrenn-test-a');
    assert.equal(await readlink(`/proc/${b.pid}/root${stableDir}/rootfs.ext4`), '/dev/mapper/wrenn-test-b');
    assert.deepEqual(readdirSync(stableDir), [], "the host's directory stays empty");
  });

  it('outlives the process that launched it, is re-adopted by pid + start time, and is stopped', async () => {
    const sandboxDir = join(dir, 'c');
    execFileSync('mkdir', ['-p', sandboxDir]);
    // A separate, short-lived "agent" launches it and exits.
    const script = `require(${JSON.stringify(join(__dirname, 'vmm-process.js'))}).launchVmm(${JSON.stringify({ binary, sandboxId: 'sb_c', dir: sandboxDir, netnsName: NETNS, stableDir, rootfsDevice: '/dev/null' })}).then((p) => process.stdout.write(JSON.stringify(p)))`;
    const p = JSON.parse(execFileSync(process.execPath, ['-e', script]).toString()) as VmmProcess;
    launched.push(p);
    await new FirecrackerClient(p.apiSocket).waitReady(10_000, () => isVmmAlive(p));
    assert.ok(await isVmmAlive(p), 'alive after its launcher exited');
    const stat = (await readFile(`/proc/${p.pid}/stat`, 'utf8')).slice((await readFile(`/proc/${p.pid}/stat`, 'utf8')).lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(stat[3]), p.pid, 'leads its own session (detached from the agent)');
    assert.equal(await isVmmAlive({ pid: p.pid, startTime: '1' }), false, 'a pid with another start time is not ours');
    await stopVmm(p);
    assert.equal(await isVmmAlive(p), false);
    assert.ok(!existsSync(`/proc/${p.pid}/cmdline`) || !(await readFile(`/proc/${p.pid}/cmdline`, 'utf8')).includes('fake-firecracker'));
    await stopVmm(p); // stopping what is gone is fine
  });
});

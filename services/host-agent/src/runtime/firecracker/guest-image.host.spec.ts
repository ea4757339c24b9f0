import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootArgs } from './boot-config';
import { guestIpBootArg } from '../../networking';
import { IDENTITY_SCRIPT } from '../../envd-client/envd-session';
import { REPO_ROOT } from '@wrenn/host-agent-test-support';

const IMAGES = join(REPO_ROOT, 'images');

/**
 * wrenn-init run for real, as PID 1 of new mount, pid, uts and net namespaces, against a
 * directory standing for the guest's root and a file standing for /proc/cmdline; its `node` is a
 * stand-in that reports what it found and exits (tini then exits with it).
 */
describe('wrenn-init as PID 1 against a stand-in root (root, kernel)', () => {
  let dir: string;
  let root: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-init-'));
    root = join(dir, 'root');
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(join(root, 'opt/wrenn/bin'), { recursive: true });
    await mkdir(join(root, 'opt/wrenn/envd'), { recursive: true });
    await writeFile(join(root, 'opt/wrenn/envd/envd.js'), '');
    await writeFile(
      join(root, 'opt/wrenn/bin/node'),
      `#!/bin/sh
r=${root}
{
  echo "argv=$*"
  echo "pid1=$(cat $r/proc/1/comm)"
  echo "port=$ENVD_PORT"
  echo "hostname=$(cat /proc/sys/kernel/hostname)"
  for m in proc sys dev dev/pts dev/shm run tmp; do mountpoint -q "$r/$m" && echo "mounted=$m"; done
  ip -4 -o addr show dev eth0 | awk '{print "addr="$4}'
  ip route show default | awk '{print "route="$3}'
  ip -o link show lo | grep -q 'UP' && echo "lo=up"
} > ${dir}/report
`,
    );
    await chmod(join(root, 'opt/wrenn/bin/node'), 0o755);
    await writeFile(join(dir, 'cmdline'), `${bootArgs({ sandboxId: 'sb_01test' }, ['10.255.255.53', '9.9.9.9'], guestIpBootArg())}\n`);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('mounts the kernel file systems, names the sandbox, writes resolv.conf, configures eth0 from ip= and starts envd under tini', async () => {
    // The shipped init reads / and /proc/cmdline and nothing from its environment: this test
    // runs a copy with those two lines pointed at the stand-ins.
    const shipped = await readFile(join(IMAGES, 'wrenn-init.sh'), 'utf8');
    assert.doesNotMatch(shipped, /WRENN_INIT_|\$\{?[A-Z_]+:-/, 'the shipped init reads no test hooks from the environment');
    const variant = shipped.replace(/^root=$/m, `root=${root}`).replace(/^cmdline_file=\/proc\/cmdline$/m, `cmdline_file=${join(dir, 'cmdline')}`);
    assert.ok(variant.includes(`root=${root}\n`) && variant.includes(`cmdline_file=${join(dir, 'cmdline')}\n`), 'the init still has its root= and cmdline_file= lines');
    const init = join(dir, 'wrenn-init.sh');
    await writeFile(init, variant);
    const r = spawnSync(
      'unshare',
      ['--mount', '--uts', '--net', '--pid', '--fork', '--propagation', 'private', '--', 'sh', '-c', 'ip link add eth0 type veth peer name eth0p && exec sh "$0"', init],
      { env: { PATH: process.env.PATH }, timeout: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr.toString());
    const report = await readFile(join(dir, 'report'), 'utf8');
    assert.match(report, new RegExp(`argv=${root}/opt/wrenn/envd/envd\\.js`));
    assert.match(report, /pid1=tini/, 'tini is PID 1 and envd its child');
    assert.match(report, /port=49983/);
    assert.match(report, /hostname=sb_01test/);
    for (const m of ['proc', 'sys', 'dev', 'dev/pts', 'dev/shm', 'run', 'tmp']) assert.match(report, new RegExp(`mounted=${m.replace('/', '\\/')}\\n`));
    assert.match(report, /addr=169\.254\.0\.21\/30/);
    assert.match(report, /route=169\.254\.0\.22/);
    assert.match(report, /lo=up/);
    assert.equal(await readFile(join(root, 'etc/resolv.conf'), 'utf8'), 'nameserver 10.255.255.53\nnameserver 9.9.9.9\noptions timeout:2 attempts:2\n');
    assert.equal(await readFile(join(root, 'etc/hostname'), 'utf8'), 'sb_01test\n');
    assert.match(await readFile(join(root, 'etc/hosts'), 'utf8'), /127\.0\.1\.1\tsb_01test/);
    const hostMounts = await readFile('/proc/self/mounts', 'utf8');
    assert.ok(!hostMounts.includes(root), 'nothing stays mounted on the host');
  });
});

describe('identity of a sandbox started from a template (root, kernel)', () => {
  it('sets hostname, hosts and resolv.conf as wrenn-init does at boot', async () => {
    const etc = await mkdtemp(join(tmpdir(), 'wrenn-etc-'));
    try {
      // In a private mount and UTS namespace, over a scratch /etc: the host's stay untouched.
      const out = execFileSync('unshare', ['--mount', '--uts', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" /etc && sh -c "$1" wrenn-identity sb_01child 10.0.0.53 9.9.9.9 && cat /proc/sys/kernel/hostname /etc/hostname /etc/hosts /etc/resolv.conf', etc, IDENTITY_SCRIPT]).toString();
      assert.equal(out, 'sb_01child\n' + 'sb_01child\n' + '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tsb_01child\n' + 'nameserver 10.0.0.53\nnameserver 9.9.9.9\noptions timeout:2 attempts:2\n');
    } finally {
      await rm(etc, { recursive: true, force: true });
    }
  });
});

/** Builds the real image (minutes with debootstrap; seconds from an existing base dir). Opt-in. */
describe('Firecracker guest image build (root; WRENN_TEST_FC_IMAGE=1)', { skip: process.env.WRENN_TEST_FC_IMAGE !== '1' && 'opt-in: WRENN_TEST_FC_IMAGE=1 builds the real image (minutes of debootstrap)' }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-fcimg-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('produces an ext4 image with envd, Node and wrenn-init', { timeout: 600_000 }, () => {
    const target = join(dir, 'base.ext4');
    execFileSync('bash', [join(IMAGES, 'firecracker/build.sh'), target], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WRENN_FC_IMAGE_SIZE_MB: '1024' } });
    assert.ok(existsSync(target));
    const ls = (path: string) => execFileSync('debugfs', ['-R', `stat ${path}`, target], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    assert.match(ls('/usr/local/sbin/wrenn-init'), /Mode:\s+0755/);
    assert.match(ls('/opt/wrenn/bin/node'), /Type: regular/);
    assert.match(ls('/opt/wrenn/envd/envd.js'), /Type: regular/);
    assert.match(ls('/usr/bin/tini'), /Type: regular/);
    assert.match(execFileSync('dumpe2fs', ['-h', target], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(), /Filesystem volume name:\s+wrenn-root/);
  });
});

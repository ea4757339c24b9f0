import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SandboxSpec } from '@wrenn/contracts';
import { ulid } from 'ulid';
import { CgroupManager } from '../../cgroups';
import { EnvdClient, envdClientFor } from '../../envd-client/envd.client';
import { NetworkManager } from '../../networking';
import { NamespaceRuntime } from './namespace-sandboxes';
import { CAPABILITY_NUMBERS, SANDBOX_CAPABILITIES } from '../../runtime/namespace/sandbox-hardening';
import { unusedSlotCidr } from '../../networking';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(224);

/**
 * Escape probes: what a hostile program running as root inside a namespace sandbox tries first.
 * Each assertion is one boundary of docs/security.md; any of them failing means the sandbox is
 * weaker than documented. Run on the real kernel, against the real runtime and helper.
 */
const IMAGE_DIR = process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images';
const KEY = `e${Math.random().toString(36).slice(2, 6)}`;
const GROUP = `wrenn-${KEY}`;
const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({ sandboxId: `sb_${ulid().toLowerCase()}`, teamId: 't', template: 'base', vcpus: 1, memoryMb: 256, ...over });

/** The syscall numbers the probes call directly (x86-64; arm64 has its own). */
const SYSCALLS: Record<string, Record<string, number>> = {
  x64: { keyctl: 250, add_key: 248, bpf: 321, perf_event_open: 298, userfaultfd: 323, kexec_load: 246, init_module: 175, open_by_handle_at: 304 },
  arm64: { keyctl: 219, add_key: 217, bpf: 280, perf_event_open: 241, userfaultfd: 282, kexec_load: 104, init_module: 105, open_by_handle_at: 265 },
};
const EPERM = 1;

describe('escape probes: root inside a namespace sandbox (root, kernel)', { timeout: 240_000 }, () => {
  let stateDir: string;
  let network: NetworkManager;
  let runtime: NamespaceRuntime;
  const cgroups = new CgroupManager({ group: GROUP });
  const made: string[] = [];
  const clients: EnvdClient[] = [];
  let id: string;

  const sh = async (sandboxId: string, script: string, user = 'root') => {
    const client = envdClientFor(sandboxId, await runtime.endpoint(sandboxId));
    clients.push(client);
    return client.exec({ cmd: '/bin/sh', args: ['-c', script], user }, 30);
  };
  const create = async (over: Partial<SandboxSpec> = {}) => {
    const s = spec(over);
    made.push(s.sandboxId);
    await runtime.create(s);
    return s.sandboxId;
  };

  before(async () => {
    stateDir = await mkdtemp('/tmp/wrenn-probe-');
    network = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 0 });
    runtime = new NamespaceRuntime({
      stateDir,
      imageDir: IMAGE_DIR,
      network,
      cgroups,
      envdHost: {},
    });
    await runtime.prepare();
    await runtime.recover();
    id = await create();
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const m of made) await runtime.destroy(m).catch(() => undefined);
    await runtime.shutdown();
    await network.stop({ removeHostRules: true });
    await cgroups.removeGroup();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("maps the sandbox's root to an unprivileged host id, never the host's root", async () => {
    const r = await sh(id, 'id -u; cat /proc/self/uid_map /proc/self/gid_map');
    const [uid, uidMap, gidMap] = r.stdout.trim().split('\n');
    assert.equal(uid, '0', 'root inside');
    for (const map of [uidMap, gidMap]) {
      const [inside, outside, count] = map.trim().split(/\s+/).map(Number);
      assert.equal(inside, 0);
      assert.ok(outside >= 65_536, `host id ${outside} is not a host user's`);
      assert.equal(count, 65_536, 'one 16-bit range, not the identity map of everything');
    }
  });

  it("a process envd starts (the REST exec path) is fenced like the sandbox: seccomp, no_new_privs, the sandbox's uid map, its limited cgroup", async () => {
    const r = await sh(id, 'cat /proc/self/status; echo ---; cat /proc/self/uid_map; echo ---; cat /proc/self/cgroup', 'user');
    const [status, uidMap, cgroupText] = r.stdout.split('---\n');
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    assert.equal(field('Seccomp'), '2', 'a seccomp filter is on');
    assert.equal(field('NoNewPrivs'), '1');
    assert.equal(field('Uid'), '1000', 'the requested user');
    const meta = JSON.parse(readFileSync(join(stateDir, 'sandboxes', id, 'meta.json'), 'utf8')) as { ids: { hostRoot: number; count: number } };
    assert.deepEqual(uidMap.trim().split(/\s+/).map(Number), [0, meta.ids.hostRoot, meta.ids.count], "the sandbox's own id range");
    // The limits hold for what the user runs: memory and pids are the sandbox's `user` group (v1),
    // or its user leaf (v2), never the group envd or the init sit in.
    const groups = cgroupText.trim().split('\n').map((l) => l.split(':'));
    // (A v1 host may also mount an empty v2 hierarchy, whose "0::/" line limits nothing.)
    const v1 = groups.filter(([, controllers]) => /(^|,)(memory|pids)(,|$)/.test(controllers));
    const limited = v1.length ? v1 : groups.filter(([hierarchy]) => hierarchy === '0');
    assert.ok(limited.length > 0, cgroupText);
    for (const [, controllers, path] of limited) assert.match(path, /\/user$/, `${controllers || 'v2'}: ${path}`);
  });

  it('cannot change kernel settings: core_pattern, randomize_va_space, sysrq, /sys', async () => {
    const before = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const r = await sh(id, [
      "echo '|/tmp/pwn' > /proc/sys/kernel/core_pattern && echo core_pattern-written",
      'echo 0 > /proc/sys/kernel/randomize_va_space && echo aslr-written',
      'echo c > /proc/sysrq-trigger && echo sysrq-written',
      'echo 1 > /sys/kernel/mm/ksm/run && echo sys-written',
      'echo done',
    ].join('; '));
    assert.equal(r.stdout, 'done\n', r.stderr);
    assert.match(r.stderr, /core_pattern: Read-only file system/);
    assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), before, "the host's core_pattern is untouched");
  });

  it('runs under seccomp with no_new_privs and only the OCI default capabilities', async () => {
    const status = (await sh(id, 'cat /proc/self/status')).stdout;
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    assert.equal(field('Seccomp'), '2', 'a seccomp filter is on');
    assert.equal(field('NoNewPrivs'), '1');
    const kept = SANDBOX_CAPABILITIES.reduce((mask, cap) => mask | (1n << BigInt(CAPABILITY_NUMBERS[cap])), 0n);
    assert.equal(BigInt(`0x${field('CapBnd')}`), kept, 'bounding set');
    assert.equal(BigInt(`0x${field('CapEff')}`), kept, 'effective set of root');
    assert.equal(kept & (1n << 21n), 0n, 'no CAP_SYS_ADMIN');
  });

  it('refuses the system calls of kernel exploits and escapes with EPERM', async () => {
    const numbers = SYSCALLS[process.arch];
    assert.ok(numbers, `no syscall numbers for ${process.arch}`);
    // perl-base is in every Debian image: syscall() with dummy arguments, errno printed.
    const script = Object.entries(numbers)
      .map(([name, nr]) => `$r = syscall(${nr}, 0, 0, 0, 0, 0); print "${name}=", ($r == -1 ? $!+0 : "ok"), "\\n";`)
      .join(' ');
    const r = await sh(id, `perl -e '${script}'`);
    const results = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=')));
    for (const name of Object.keys(numbers)) assert.equal(results[name], String(EPERM), `${name} → ${results[name]}`);
  });

  it('cannot make namespaces, mount, or make device nodes', async () => {
    const attempts = ['unshare -U true', 'unshare -m true', 'mount -t tmpfs none /mnt', 'mount --bind /proc /mnt', 'mknod /tmp/disk b 254 0'];
    for (const attempt of attempts) {
      const r = await sh(id, `${attempt} 2>&1; echo "exit=$?"`);
      assert.doesNotMatch(r.stdout, /exit=0/, `${attempt} succeeded`);
      assert.match(r.stdout, /Operation not permitted|permission denied/i, attempt);
    }
  });

  it('sees only its own processes, devices and a masked /proc and /sys', async () => {
    const r = await sh(id, [
      'ls /dev | tr "\\n" " "; echo',
      'head -c 8 /dev/urandom | wc -c',
      'echo x > /dev/null && echo null-ok',
      'cat /proc/keys | wc -c',
      'ls /sys/firmware | wc -l',
      'for f in $(ls /proc/1/fd 2>/dev/null); do readlink /proc/1/fd/$f >/dev/null 2>&1 && echo "fd-$f-followed"; done; echo fds-hidden',
    ].join('; '));
    const [devs, urandom, nullOk, keys, firmware, fds] = r.stdout.trim().split('\n');
    assert.deepEqual(devs.trim().split(' ').sort(), ['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    assert.equal(urandom.trim(), '8');
    assert.equal(nullOk, 'null-ok');
    assert.equal(keys.trim(), '0', '/proc/keys masked');
    assert.equal(firmware.trim(), '0', '/sys/firmware masked');
    // PID 1 holds the socket the host's envd speaks to it on: nothing in the sandbox may follow its
    // descriptors (it is not dumpable: they may be listed, being the sandbox root's, not opened).
    assert.equal(fds, 'fds-hidden', "the init's descriptors are open to the sandbox");
  });

  it('gives a setuid binary no privilege, inside or from the host', async () => {
    const r = await sh(id, 'echo secret > /root/secret; chmod 600 /root/secret; cp /bin/cat /usr/local/bin/suidcat; chmod 4755 /usr/local/bin/suidcat; echo ok');
    assert.equal(r.stdout, 'ok\n');
    const asUser = await sh(id, '/usr/local/bin/suidcat /root/secret; echo "exit=$?"', 'user');
    assert.doesNotMatch(asUser.stdout, /secret/, 'no_new_privs and nosuid: the setuid bit does not elevate');
    // From the host: the sandbox's files are reachable by root only.
    const tpl = `tpl_${ulid().toLowerCase()}`;
    await runtime.createTemplate(id, tpl, 'probe');
    try {
      const layer = join(stateDir, 'templates', tpl, 'layer');
      assert.equal(statSync(join(layer, 'usr/local/bin/suidcat')).mode & 0o4000, 0o4000, 'the copy keeps the bit (it is the sandbox’s)');
      // An unprivileged host process (a shell as nobody) tries to run it and to read the layer.
      const nobody = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--', '/bin/sh', '-c', '"$0" /etc/shadow; ls "$1"', join(layer, 'usr/local/bin/suidcat'), layer]);
      assert.equal(nobody.stdout.toString(), '', 'a host user cannot even reach it');
      assert.match(nobody.stderr.toString(), /Permission denied[\s\S]*Permission denied/);
      const sandboxDir = join(stateDir, 'sandboxes', id);
      assert.equal(statSync(sandboxDir).mode & 0o077, 0, 'the sandbox dir is private');
    } finally {
      await runtime.deleteTemplate(tpl);
    }
  });

  it('never writes or returns a host file through a symlink the sandbox planted across a restart', async () => {
    const secretDir = await mkdtemp('/tmp/wrenn-probe-secret-');
    const secret = join(secretDir, 'host-secret');
    const marker = `HOST-SECRET-${ulid()}`;
    await writeFile(secret, `${marker}\n`.repeat(10));
    try {
      const victim = await create();
      // The init's log, the hostname file and a mount point made into symlinks to the host file:
      // the resume's start opens and mounts on each of them.
      const r = await sh(victim, `rm -f /var/log/wrenn-init.log; ln -s ${secret} /var/log/wrenn-init.log; ln -sf ${secret} /etc/hostname; rm -rf /run/wrenn/cgroup; ln -s ${secretDir} /run/wrenn/cgroup; echo planted`);
      assert.equal(r.stdout, 'planted\n');
      const { snapshotRef } = await runtime.pause(victim);
      await runtime.resume(spec({ sandboxId: victim }), snapshotRef);
      assert.equal(readFileSync(secret, 'utf8'), `${marker}\n`.repeat(10), 'the host file is untouched');
      const inside = await sh(victim, 'cat /var/log/wrenn-init.log /etc/hostname /run/wrenn/cgroup/* 2>&1; echo done');
      assert.doesNotMatch(inside.stdout, new RegExp(marker), 'the sandbox read the host file');
      assert.match(inside.stdout, /done\n$/);
    } finally {
      await rm(secretDir, { recursive: true, force: true });
    }
  });

  it("stops writes at the sandbox's disk quota with ENOSPC; the host loses at most that much", async () => {
    const small = await create({ diskMb: 64 });
    const image = join(stateDir, 'sandboxes', small, 'disk.img');
    const r = await sh(small, 'dd if=/dev/zero of=/root/fill bs=1M count=200 2>&1; echo "exit=$?"; echo still-running');
    assert.match(r.stdout, /No space left on device/);
    assert.match(r.stdout, /exit=1\n/, 'dd failed');
    assert.match(r.stdout, /still-running/, 'the sandbox runs on');
    const allocated = statSync(image).blocks * 512;
    assert.ok(allocated <= 64 * 1024 * 1024, `the image takes ${allocated} bytes of the host's disk`);
    const metrics = await runtime.metrics(small);
    assert.ok(metrics.diskBytes > 50 * 1024 * 1024 && metrics.diskBytes <= 64 * 1024 * 1024, `disk in use reported: ${metrics.diskBytes}`);
    const freed = await sh(small, 'rm /root/fill; sync; echo ok');
    assert.equal(freed.stdout, 'ok\n');
    const deadline = Date.now() + 10_000;
    while (statSync(image).blocks * 512 > 16 * 1024 * 1024 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(statSync(image).blocks * 512 <= 16 * 1024 * 1024, 'deleted files give their blocks back to the host');
  });
});

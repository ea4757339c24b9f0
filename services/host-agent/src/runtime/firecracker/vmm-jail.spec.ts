import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { idRangeOf } from '../namespace/sandbox-hardening';
import { FirecrackerDriver } from './firecracker.driver';
import { MemorySnapshots } from './memory-snapshots';
import { renderVmmJailPlan, vmmJailPlan, VmmJailRequest } from './vmm-jail';

/** The driver as the agent configures it; nothing here touches the host. */
const driver = new FirecrackerDriver({
  binary: '/usr/local/bin/firecracker',
  kernelPath: '/var/lib/wrenn/vmlinux',
  stableDir: '/run/wrenn/fc-vm',
  memory: new MemorySnapshots(),
});
const SANDBOX = 'sb_01hzy7n2q8d3k4m5p6r7s8t9v0';
const DIR = `/var/lib/wrenn/firecracker/sandboxes/${SANDBOX}`;
const DEVICE = `/dev/mapper/wrenn-k-${SANDBOX}`;
const request = (restore?: VmmJailRequest['restore']) => driver.jailRequest(SANDBOX, DIR, idRangeOf(5).hostRoot, DEVICE, NETNS, CGROUPS, restore);
const CGROUPS = [`/sys/fs/cgroup/memory/wrenn-k/${SANDBOX}/cgroup.procs`, `/sys/fs/cgroup/pids/wrenn-k/${SANDBOX}/cgroup.procs`];
const NETNS = '/var/run/netns/wrenn-k-5';
const everyDevice = () => true;

/** The helper's plan for a request, as lines; `key` lines' values. */
const planOf = (r: VmmJailRequest) => renderVmmJailPlan(vmmJailPlan(r, everyDevice)).trimEnd().split('\n');
const values = (lines: string[], key: string) => lines.filter((l) => l.startsWith(`${key}\t`)).map((l) => l.slice(key.length + 1));

describe('the VMM jail plan the Firecracker runtime asks the helper for', () => {
  const create = planOf(request());
  const resume = planOf(request({ vmstate: `${DIR}/snapshot/vmstate.01j`, uffdSocket: `${DIR}/uffd.sock` }));

  for (const [name, lines] of [['create', create], ['resume', resume]] as const) {
    it(`${name}: the VMM mode, as the slot's unprivileged id, never 0`, () => {
      assert.equal(lines[0], 'mode\tvmm');
      const id = String(idRangeOf(5).hostRoot);
      assert.deepEqual(values(lines, 'uid'), [id]);
      assert.deepEqual(values(lines, 'gid'), [id]);
      assert.notEqual(id, '0');
    });

    it(`${name}: in the slot's netns and the VMM's own cgroups, chrooted under the sandbox dir`, () => {
      assert.deepEqual(values(lines, 'netns'), [NETNS]);
      assert.deepEqual(values(lines, 'cgroup'), CGROUPS);
      assert.deepEqual(values(lines, 'chroot'), [`${DIR}/jail`]);
    });

    it(`${name}: its own KVM, TUN and userfaultfd nodes on a tmpfs, the drive at the stable path`, () => {
      assert.ok(lines.indexOf('tmpfs\tdev') < lines.indexOf('dev\t/dev/kvm\tdev/kvm'), 'the nodes live on the tmpfs');
      assert.deepEqual(values(lines, 'dev'), [
        '/dev/kvm\tdev/kvm',
        '/dev/net/tun\tdev/net/tun',
        '/dev/userfaultfd\tdev/userfaultfd',
        `/dev/mapper/wrenn-k-${SANDBOX}\trun/wrenn/fc-vm/rootfs.ext4`,
      ]);
      assert.ok(values(lines, 'tmpfs').includes('run/wrenn/fc-vm'));
    });

    it(`${name}: the binary and kernel read-only; only the API dir and the out dir are the VMM's`, () => {
      assert.ok(values(lines, 'ro').includes('/usr/local/bin/firecracker\tfirecracker'));
      assert.ok(values(lines, 'ro').includes('/var/lib/wrenn/vmlinux\tboot/vmlinux'));
      assert.deepEqual(values(lines, 'dir'), ['api', 'out']);
    });

    it(`${name}: runs Firecracker with its API socket in the jail and its default seccomp filters`, () => {
      const argv = values(lines, 'arg');
      assert.deepEqual(argv, ['/firecracker', '--api-sock', '/api/fc.sock', '--id', 'sb-01hzy7n2q8d3k4m5p6r7s8t9v0']);
      assert.ok(!argv.some((a) => a.startsWith('--no-seccomp') || a.startsWith('--seccomp-filter')));
      assert.ok(!lines.some((l) => /seccomp/.test(l)), 'nothing in the plan touches seccomp');
    });
  }

  it('create: no snapshot and no page server socket in the jail', () => {
    assert.ok(!create.some((l) => l.includes('snapshot') || l.startsWith('sock\t')));
  });

  it("resume: the snapshot's vmstate read-only and the page server's socket, made the VMM's", () => {
    assert.ok(values(resume, 'ro').includes(`${DIR}/snapshot/vmstate.01j\tsnapshot/vmstate`));
    assert.deepEqual(values(resume, 'sock'), [`${DIR}/uffd.sock\tuffd.sock`]);
  });

  it('leaves out device nodes the host does not have (an older kernel without /dev/userfaultfd)', () => {
    const lines = renderVmmJailPlan(vmmJailPlan(request(), (p) => p !== '/dev/userfaultfd')).split('\n');
    assert.ok(!lines.some((l) => l.includes('userfaultfd')));
  });

  it('refuses host id 0, a path leaving the jail, and a value that would smuggle a line', () => {
    const base = request();
    assert.throws(() => vmmJailPlan({ ...base, hostId: 0 }), /never runs as host id 0/);
    assert.throws(() => renderVmmJailPlan(vmmJailPlan({ ...base, stableDir: '/run/../etc' }, everyDevice)), /bad path inside the jail/);
    assert.throws(() => renderVmmJailPlan(vmmJailPlan({ ...base, netnsPath: '/x\nuid\t0' }, everyDevice)), /newline/);
  });
});

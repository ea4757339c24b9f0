import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '@wrenn/config';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@wrenn/logger';
import { createRuntime } from './create-runtime';
import { HostProbe, KvmKind, kvmKind, kvmProblem, realHostProbe, selectRuntime } from './select-runtime';

/** A host described by what it has. */
function host(has: { path?: string[]; files?: string[]; kvm?: boolean; versions?: Record<string, string> }): HostProbe {
  const files = new Set([...(has.path ?? []), ...(has.files ?? [])]);
  return {
    which: (name) => has.path?.find((p) => p.endsWith(`/${name}`)),
    isExecutable: (p) => (has.path ?? []).includes(p),
    isFile: (p) => files.has(p),
    kvmProblem: () => (has.kvm ? undefined : '/dev/kvm is not backed by hardware virtualization (neither kvm_intel nor kvm_amd is loaded)'),
    version: (binary) => (has.versions ? has.versions[binary] : 'Firecracker v1.16.1'),
  };
}

const full = host({ path: ['/usr/local/bin/firecracker'], files: ['/boot/vmlinux'], kvm: true });
const cfg = (env: Record<string, string>) => loadConfig({ ...env }).host;

describe(selectRuntime.name, () => {
  it('keeps namespace as the default, whatever the host has', () => {
    assert.deepEqual(selectRuntime(cfg({}), full), { kind: 'namespace', reason: 'WRENN_RUNTIME=namespace' });
  });

  it('auto picks firecracker when binary (PATH), kernel and /dev/kvm are all there', () => {
    const choice = selectRuntime(cfg({ WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/boot/vmlinux' }), full);
    assert.equal(choice.kind, 'firecracker');
    assert.equal(choice.binary, '/usr/local/bin/firecracker');
    assert.equal(choice.kernel, '/boot/vmlinux');
    assert.match(choice.reason, /Firecracker v1\.16\.1 at \/usr\/local\/bin\/firecracker, kernel/);
  });

  it('auto prefers WRENN_FC_BINARY over PATH', () => {
    const h = host({ path: ['/usr/local/bin/firecracker', '/opt/fc/firecracker'], files: ['/boot/vmlinux'], kvm: true });
    assert.equal(selectRuntime(cfg({ WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/boot/vmlinux', WRENN_FC_BINARY: '/opt/fc/firecracker' }), h).binary, '/opt/fc/firecracker');
  });

  it('auto falls back to namespace and says every reason', () => {
    const choice = selectRuntime(cfg({ WRENN_RUNTIME: 'auto' }), host({ kvm: false }));
    assert.equal(choice.kind, 'namespace');
    assert.match(choice.reason, /no firecracker binary on PATH/);
    assert.match(choice.reason, /WRENN_FC_KERNEL/);
    assert.match(choice.reason, /\/dev\/kvm/);
  });

  it('auto falls back when only KVM is missing (a binary and kernel are not enough)', () => {
    const h = host({ path: ['/usr/local/bin/firecracker'], files: ['/boot/vmlinux'], kvm: false });
    const choice = selectRuntime(cfg({ WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/boot/vmlinux' }), h);
    assert.deepEqual([choice.kind, choice.reason], ['namespace', 'WRENN_RUNTIME=auto: namespace, because /dev/kvm is not backed by hardware virtualization (neither kvm_intel nor kvm_amd is loaded)']);
  });

  it('auto falls back when the configured kernel or binary does not exist', () => {
    assert.match(selectRuntime(cfg({ WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/nope' }), full).reason, /guest kernel \/nope does not exist/);
    assert.match(selectRuntime(cfg({ WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/boot/vmlinux', WRENN_FC_BINARY: '/nope/fc' }), full).reason, /WRENN_FC_BINARY \/nope\/fc is not an executable/);
  });

  it('a binary that does not run is missing; another version is chosen but named', () => {
    const broken = host({ path: ['/usr/local/bin/firecracker'], files: ['/boot/vmlinux'], kvm: true, versions: {} });
    assert.match(selectRuntime(cfg({ WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/boot/vmlinux' }), broken).reason, /--version does not run/);
    const newer = host({ path: ['/usr/local/bin/firecracker'], files: ['/boot/vmlinux'], kvm: true, versions: { '/usr/local/bin/firecracker': 'Firecracker v1.17.0' } });
    const choice = selectRuntime(cfg({ WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/boot/vmlinux' }), newer);
    assert.equal(choice.kind, 'firecracker');
    assert.match(choice.reason, /Firecracker v1\.17\.0 .*pinned to v1\.16\.1/);
  });

  it('an explicit firecracker that cannot run is an error, not a silent fallback', () => {
    assert.throws(() => selectRuntime(cfg({ WRENN_RUNTIME: 'firecracker' }), host({ kvm: true })), /WRENN_RUNTIME=firecracker, but no firecracker binary/);
    assert.equal(selectRuntime(cfg({ WRENN_RUNTIME: 'firecracker', WRENN_FC_KERNEL: '/boot/vmlinux' }), full).kind, 'firecracker');
  });

  // Whether /dev/kvm exists, and whether it is hardware-backed or PVM, differs between our
  // machines: the real probe is checked for the kind this host is, and says which.
  const hostKvm = kvmKind();
  const expected: Record<KvmKind, RegExp | undefined> = {
    absent: /\/dev\/kvm does not exist \(no KVM on this host\)/,
    pvm: /\/dev\/kvm is not backed by hardware virtualization/,
    hardware: undefined,
    other: process.arch === 'x64' ? /not backed by hardware virtualization/ : undefined,
  };
  it(`the real probe on this host (KVM: ${hostKvm}) finds /dev/kvm ${expected[hostKvm] ? 'unusable for Firecracker, and says why' : 'usable'}`, () => {
    const problem = realHostProbe.kvmProblem();
    if (expected[hostKvm]) assert.match(problem ?? '', expected[hostKvm]!);
    // A hardware-backed /dev/kvm that this process cannot open is named as such.
    else assert.ok(problem === undefined || /cannot be opened read-write/.test(problem), problem);
  });

  describe('the KVM probe on each kind of host (device and module paths pointed at stand-ins)', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kvm-probe-'));
      for (const m of ['hw/kvm', 'hw/kvm_intel', 'pvm/kvm', 'pvm/kvm_pvm']) await mkdir(join(dir, m), { recursive: true });
      await writeFile(join(dir, 'not-a-device'), '');
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('without /dev/kvm: absent, and the reason says there is no KVM', () => {
      const paths = { device: join(dir, 'kvm'), modules: join(dir, 'hw') };
      assert.equal(kvmKind(paths), 'absent');
      assert.equal(kvmProblem(paths), `${paths.device} does not exist (no KVM on this host)`);
    });
    it('a /dev/kvm that is a plain file is refused', () => {
      assert.match(kvmProblem({ device: join(dir, 'not-a-device'), modules: join(dir, 'hw') }) ?? '', /is not a character device/);
    });
    // /dev/null stands for a character device that opens read-write.
    it('hardware-backed (kvm_intel loaded): usable', () => {
      const paths = { device: '/dev/null', modules: join(dir, 'hw') };
      assert.equal(kvmKind(paths), 'hardware');
      assert.equal(kvmProblem(paths), undefined);
    });
    it('PVM (only kvm_pvm loaded): opens, but on x86 is not usable for Firecracker', () => {
      const paths = { device: '/dev/null', modules: join(dir, 'pvm') };
      assert.equal(kvmKind(paths), 'pvm');
      if (process.arch === 'x64') assert.equal(kvmProblem(paths), '/dev/null is not backed by hardware virtualization (neither kvm_intel nor kvm_amd is loaded)');
      else assert.equal(kvmProblem(paths), undefined);
    });
  });

  it('the agent builds the chosen runtime (its kind is what the heartbeat reports) and logs why', () => {
    const logs: Array<{ o: Record<string, unknown>; msg: string }> = [];
    const log = { info: (o: Record<string, unknown>, msg: string) => logs.push({ o, msg }), warn: () => {}, error: () => {}, debug: () => {} } as unknown as Logger;
    const env = { WRENN_RUNTIME: 'auto', WRENN_FC_KERNEL: '/boot/vmlinux', WRENN_HOST_ID: 'h1' };
    assert.equal(createRuntime(loadConfig(env), log, full).kind, 'firecracker');
    assert.equal(createRuntime(loadConfig(env), log, host({ kvm: true, files: ['/boot/vmlinux'] })).kind, 'namespace');
    assert.deepEqual(logs.map((l) => [l.msg, l.o.configured]), [['runtime: firecracker', 'auto'], ['runtime: namespace', 'auto']]);
    assert.match(String(logs[1].o.reason), /no firecracker binary/);
  });

  it('configuration refuses unknown runtimes', () => {
    assert.throws(() => loadConfig({ WRENN_RUNTIME: 'kvm' }), /namespace, firecracker or auto/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '@wrenn/config';
import { existsSync } from 'node:fs';
import type { Logger } from '@wrenn/logger';
import { createRuntime } from './create-runtime';
import { HostProbe, realHostProbe, selectRuntime } from './select-runtime';

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

  it('on this kind of host (kvm_pvm) the real probe finds /dev/kvm unusable for Firecracker', { skip: !existsSync('/sys/module/kvm_pvm') }, () => {
    assert.match(realHostProbe.kvmProblem() ?? '', /not backed by hardware virtualization/);
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

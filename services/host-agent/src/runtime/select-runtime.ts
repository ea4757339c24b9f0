import { FirecrackerConfig, variable, WrennConfig } from '@wrenn/config';
import { RuntimeKind } from '@wrenn/contracts';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What the host offers, looked at through a small seam so the choice can be tested anywhere. */
export interface HostProbe {
  /** Absolute path of an executable named `name` on PATH, if any. */
  which(name: string): string | undefined;
  isExecutable(path: string): boolean;
  isFile(path: string): boolean;
  /** Why /dev/kvm cannot run Firecracker here, or undefined when it can. */
  kvmProblem(): string | undefined;
  /** What `<binary> --version` prints first (e.g. "Firecracker v1.16.1"), or undefined if it does not run. */
  version(binary: string): string | undefined;
}

export interface RuntimeChoice {
  kind: RuntimeKind;
  /** Why, in words for the log. */
  reason: string;
  /** Resolved Firecracker binary and kernel (firecracker only). */
  binary?: string;
  kernel?: string;
}

/**
 * Picks the host's runtime from WRENN_RUNTIME. An explicit `firecracker` that cannot run is an
 * error (an operator asked for it); `auto` falls back to `namespace` and says what was missing.
 */
export function selectRuntime(host: Pick<WrennConfig['host'], 'runtime' | 'firecracker'>, probe: HostProbe = realHostProbe): RuntimeChoice {
  if (host.runtime === 'namespace') return { kind: 'namespace', reason: 'WRENN_RUNTIME=namespace' };
  const { binary, kernel, missing } = firecrackerPrerequisites(host.firecracker, probe);
  if (missing.length === 0) {
    const version = probe.version(binary!)!;
    // The client and its contract tests follow the pinned v1.16.1 API; say so when the binary differs.
    const pinned = /\bv?1\.16\.\d+\b/.test(version) ? '' : ' (the API client is pinned to v1.16.1)';
    return { kind: 'firecracker', reason: `WRENN_RUNTIME=${host.runtime}: ${version} at ${binary}${pinned}, kernel ${kernel}, /dev/kvm usable`, binary, kernel };
  }
  if (host.runtime === 'firecracker') throw new Error(`WRENN_RUNTIME=firecracker, but ${missing.join('; ')}`);
  return { kind: 'namespace', reason: `WRENN_RUNTIME=auto: namespace, because ${missing.join('; ')}` };
}

function firecrackerPrerequisites(fc: FirecrackerConfig, probe: HostProbe): { binary?: string; kernel?: string; missing: string[] } {
  const missing: string[] = [];
  let binary: string | undefined;
  if (fc.binary) {
    if (probe.isExecutable(fc.binary)) binary = fc.binary;
    else missing.push(`WRENN_FC_BINARY ${fc.binary} is not an executable file`);
  } else {
    binary = probe.which('firecracker');
    if (!binary) missing.push('no firecracker binary on PATH (set WRENN_FC_BINARY)');
  }
  if (binary && !probe.version(binary)) {
    missing.push(`${binary} --version does not run`);
    binary = undefined;
  }
  if (!fc.kernel) missing.push('no guest kernel configured (WRENN_FC_KERNEL)');
  else if (!probe.isFile(fc.kernel)) missing.push(`guest kernel ${fc.kernel} does not exist`);
  const kvm = probe.kvmProblem();
  if (kvm) missing.push(kvm);
  return { binary, kernel: fc.kernel, missing };
}

export const realHostProbe: HostProbe = {
  version(binary) {
    const r = spawnSync(binary, ['--version'], { timeout: 5000, encoding: 'utf8' });
    const first = r.status === 0 ? r.stdout.split('\n')[0].trim() : '';
    return first || undefined;
  },
  which(name) {
    for (const dir of variable('PATH').split(delimiter)) {
      if (dir && realHostProbe.isExecutable(join(dir, name))) return join(dir, name);
    }
    return undefined;
  },
  isExecutable(path) {
    try {
      const s = statSync(path);
      return s.isFile() && (s.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  },
  isFile(path) {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  kvmProblem: () => kvmProblem(),
};

/** Where the KVM probe looks: the device and the kernel's module directory (a test points them elsewhere). */
export interface KvmPaths {
  device: string;
  modules: string;
}

/** What a host's KVM is, by what the kernel shows: no /dev/kvm, hardware-backed, or PVM (kvm_pvm, paravirtual). */
export type KvmKind = 'absent' | 'hardware' | 'pvm' | 'other';

export function kvmKind({ device, modules }: KvmPaths = { device: '/dev/kvm', modules: '/sys/module' }): KvmKind {
  if (!existsSync(device)) return 'absent';
  if (existsSync(join(modules, 'kvm_intel')) || existsSync(join(modules, 'kvm_amd'))) return 'hardware';
  return existsSync(join(modules, 'kvm_pvm')) ? 'pvm' : 'other';
}

/** Why the KVM at `paths` cannot run Firecracker, or undefined when it can. */
export function kvmProblem({ device, modules }: KvmPaths = { device: '/dev/kvm', modules: '/sys/module' }): string | undefined {
  try {
    if (!statSync(device).isCharacterDevice()) return `${device} is not a character device`;
    closeSync(openSync(device, constants.O_RDWR));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${device} does not exist (no KVM on this host)` : `${device} cannot be opened read-write (${code})`;
  }
  // On x86 Firecracker needs hardware virtualization; a /dev/kvm served by another module
  // (kvm_pvm, a paravirtual KVM inside a VM) opens fine but cannot run its guests.
  if (process.arch === 'x64' && !existsSync(join(modules, 'kvm_intel')) && !existsSync(join(modules, 'kvm_amd'))) {
    return `${device} is not backed by hardware virtualization (neither kvm_intel nor kvm_amd is loaded)`;
  }
  return undefined;
}

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a VMM lives: a jail (chroot) under its sandbox's dir, built by the native helper
 * (native/sandbox/vmm-jail.h) as Firecracker's jailer builds one. Inside, the VMM sees only what
 * it needs, at fixed paths; the agent reaches the two places the VMM writes (its API socket and
 * the snapshots it writes) at their host paths inside the jail dir.
 */
export const JAIL_DIR = 'jail';

/** Paths inside the jail (what the VMM is told through its command line and its API). */
export const IN_JAIL = {
  /** The VMM binary, bound read-only (Firecracker's jailer copies it to the same place). */
  binary: '/firecracker',
  /** Directory of the API socket: the VMM's own (it makes the socket). */
  apiDir: '/api',
  apiSocket: '/api/fc.sock',
  /** The guest kernel, bound read-only. */
  kernel: '/boot/vmlinux',
  /** The snapshot a restoring VMM loads, bound read-only. */
  vmstate: '/snapshot/vmstate',
  /** The page server's socket (memory of a restored VM), made the VMM's and bound in. */
  uffdSocket: '/uffd.sock',
  /** Where the VMM writes snapshots: its own directory; the agent moves the files out. */
  outDir: '/out',
} as const;

export const ROOTFS_NAME = 'rootfs.ext4';

/** Device nodes every VMM gets (when the host has them): KVM, TAP, and userfaultfd for Uffd restores. */
export const VMM_DEVICES = ['/dev/kvm', '/dev/net/tun', '/dev/userfaultfd'] as const;

export type JailEntry =
  | { kind: 'tmpfs' | 'dir'; target: string }
  | { kind: 'dev' | 'ro' | 'sock'; source: string; target: string };

/** Everything the helper needs to jail one VMM (rendered by renderVmmJailPlan). */
export interface VmmJailPlan {
  /** The VMM's host ids: never 0. */
  ids: { uid: number; gid: number };
  cgroupProcs: string[];
  netnsPath: string;
  /** The jail dir (a host directory under the sandbox's dir). */
  chroot: string;
  /** Made in the jail in this order; targets are absolute paths inside the jail. */
  entries: JailEntry[];
  /** argv[0] is the binary's path inside the jail. */
  argv: string[];
}

/** What the runtime knows about the VMM it is about to start. */
export interface VmmJailRequest {
  /** The `firecracker` binary on the host. */
  binary: string;
  sandboxId: string;
  /** The sandbox's state dir: the jail is made under it. */
  sandboxDir: string;
  /** Host id the VMM runs as (uid and gid): the first id of its slot's range, never 0. */
  hostId: number;
  cgroupProcs: string[];
  netnsPath: string;
  kernelPath: string;
  /** Path inside the jail of the root drive's directory (the same for every VMM, recorded in snapshots). */
  stableDir: string;
  /** The root drive on the host: a block device (the dm snapshot) or a file. */
  rootfsDevice: string;
  /** A VM restored from a snapshot: its vmstate and the page server's socket. */
  restore?: { vmstate: string; uffdSocket: string };
  /**
   * Host directories a VMM binary that is not static needs, bound read-only at the same path
   * (the test stand-in runs on Node; Firecracker is static and needs none).
   */
  runtimeDirs?: string[];
}

/** Firecracker's `--id` takes letters, digits and "-" only; sandbox ids have "_". */
export function vmmInstanceId(sandboxId: string): string {
  return sandboxId.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 64);
}

export function jailDirOf(sandboxDir: string): string {
  return join(sandboxDir, JAIL_DIR);
}

/** The host path of a path inside a sandbox's jail. */
export function hostPathInJail(sandboxDir: string, inJail: string): string {
  return join(jailDirOf(sandboxDir), inJail);
}

/**
 * The jail the runtime asks for: the devices, the root drive at the stable path, the kernel,
 * for a restore the vmstate and the page server's socket, the VMM's two writable dirs, and the
 * command line. `hostHas` decides which optional device nodes exist on this host.
 */
export function vmmJailPlan(r: VmmJailRequest, hostHas: (path: string) => boolean = existsSync): VmmJailPlan {
  if (!Number.isInteger(r.hostId) || r.hostId <= 0) throw new Error(`a VMM never runs as host id ${r.hostId}`);
  const stable = r.stableDir.replace(/\/+$/, '');
  const entries: JailEntry[] = [
    { kind: 'ro', source: r.binary, target: IN_JAIL.binary },
    { kind: 'tmpfs', target: '/dev' },
    ...VMM_DEVICES.filter(hostHas).map((d) => ({ kind: 'dev' as const, source: d, target: d })),
    { kind: 'tmpfs', target: stable },
    { kind: 'dev', source: r.rootfsDevice, target: `${stable}/${ROOTFS_NAME}` },
    { kind: 'ro', source: r.kernelPath, target: IN_JAIL.kernel },
    ...(r.restore
      ? [
          { kind: 'ro' as const, source: r.restore.vmstate, target: IN_JAIL.vmstate },
          { kind: 'sock' as const, source: r.restore.uffdSocket, target: IN_JAIL.uffdSocket },
        ]
      : []),
    { kind: 'dir', target: IN_JAIL.apiDir },
    { kind: 'dir', target: IN_JAIL.outDir },
    ...(r.runtimeDirs ?? []).map((d) => ({ kind: 'ro' as const, source: d, target: d })),
  ];
  return {
    ids: { uid: r.hostId, gid: r.hostId },
    cgroupProcs: r.cgroupProcs,
    netnsPath: r.netnsPath,
    chroot: jailDirOf(r.sandboxDir),
    entries,
    // Firecracker's default seccomp filters stay on: no --no-seccomp, no --seccomp-filter.
    argv: [IN_JAIL.binary, '--api-sock', IN_JAIL.apiSocket, '--id', vmmInstanceId(r.sandboxId)],
  };
}

/** The plan as the helper reads it: "mode<TAB>vmm", then one "key<TAB>value" a line. */
export function renderVmmJailPlan(plan: VmmJailPlan): string {
  const lines: string[] = ['mode\tvmm'];
  const add = (key: string, ...values: Array<string | number>) => {
    for (const v of values) if (/[\t\n\0]/.test(String(v))) throw new Error(`plan value for ${key} holds a tab, newline or NUL`);
    lines.push([key, ...values].join('\t'));
  };
  const inside = (path: string) => {
    const rel = path.replace(/^\/+/, '');
    if (!rel || rel.split('/').some((part) => part === '..' || part === '.')) throw new Error(`bad path inside the jail: ${path}`);
    return rel;
  };
  add('uid', plan.ids.uid);
  add('gid', plan.ids.gid);
  for (const file of plan.cgroupProcs) add('cgroup', file);
  add('netns', plan.netnsPath);
  add('chroot', plan.chroot);
  for (const e of plan.entries) {
    if ('source' in e) add(e.kind, e.source, inside(e.target));
    else add(e.kind, inside(e.target));
  }
  for (const a of plan.argv) add('arg', a);
  return `${lines.join('\n')}\n`;
}

/**
 * cgroup v1 device rules a VMM needs: the host's VMM_DEVICES and its root drive when that is a
 * block device (a file drive needs none). Without them the helper, already in the VMM's cgroup,
 * could not even make the nodes.
 */
export function vmmDeviceRules(rootfsDevice: string): string[] {
  const rules: string[] = [];
  for (const path of [...VMM_DEVICES, rootfsDevice]) {
    let s;
    try {
      s = statSync(path);
    } catch {
      continue;
    }
    if (!s.isCharacterDevice() && !s.isBlockDevice()) continue;
    // The kernel's new_encode_dev layout of st_rdev.
    const major = Math.floor(s.rdev / 256) & 0xfff;
    const minor = (s.rdev & 0xff) | (Math.floor(s.rdev / 4096) & 0xfff00);
    rules.push(`${s.isBlockDevice() ? 'b' : 'c'} ${major}:${minor} rwm`);
  }
  return rules;
}

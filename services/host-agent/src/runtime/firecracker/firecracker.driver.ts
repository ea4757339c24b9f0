import { SandboxSpec } from '@wrenn/contracts';
import { chmod, chown, lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupLimits } from '../../cgroups';
import { headerFileName, memfileName, SnapshotHeader } from '../../snapshot';
import type { PageServerProcessRef } from '../../uffd';
import type { BootRequest, SandboxDriver } from '../driver';
import { startTime } from '../namespace/proc';
import { bootArgs, guestInterface, machineConfig, rootDrive } from './boot-config';
import { FirecrackerClient } from './firecracker.client';
import { MemoryServer, MemorySnapshots } from './memory-snapshots';
import { SnapshotType } from './firecracker-api';
import { hostPathInJail, IN_JAIL, jailDirOf, vmmDeviceRules, VmmJailRequest, vmmInstanceId } from './vmm-jail';
import { isVmmAlive, launchVmm, stopVmm, VmmProcess } from './vmm-process';

/** A microVM's root drive: the block device the VMM's jail gets. */
export interface FirecrackerRoot {
  device: string;
}

/** Memory to restore instead of booting: snapshot `buildId`'s chain in `dir`, and its vmstate. */
export interface FirecrackerMemory {
  dir: string;
  buildId: string;
  vmstate: string;
}

/** A running microVM: its VMM and, when its memory is served, the page server's process. */
export interface FirecrackerBooted {
  vmm: Pick<VmmProcess, 'pid' | 'startTime' | 'apiSocket'>;
  pageServed: boolean;
  pageServer?: PageServerProcessRef;
  memfileDir?: string;
}

export interface FirecrackerDriverOptions {
  binary: string;
  kernelPath: string;
  /** Path inside every VMM's jail its root drive is under (recorded in snapshots: the same for all). */
  stableDir: string;
  memory: MemorySnapshots;
  vmmRuntimeDirs?: string[];
  apiTimeoutMs?: number;
}

export const UFFD_SOCKET = 'uffd.sock';
/** Memory a VMM uses beyond its guest's (its own heap, device emulation). */
const VMM_OVERHEAD_MB = 64;
/** Threads of a VMM beyond one per vCPU (VMM, API, and a few of its own). */
const VMM_THREADS = 16;

/**
 * Firecracker microVMs: a jailed VMM per sandbox that boots the guest kernel on the root drive,
 * or loads a snapshot whose memory a userfaultfd page server serves on demand.
 */
export class FirecrackerDriver implements SandboxDriver<FirecrackerRoot, FirecrackerBooted, FirecrackerMemory> {
  readonly kind = 'firecracker' as const;
  readonly envdToken = 'after-boot' as const;
  private readonly servers = new Map<string, MemoryServer>();

  constructor(private readonly options: FirecrackerDriverOptions) {}

  cgroupLimits(spec: SandboxSpec, root: FirecrackerRoot): CgroupLimits {
    return { vcpus: spec.vcpus, memoryMb: spec.memoryMb + VMM_OVERHEAD_MB, pidsMax: spec.vcpus + VMM_THREADS, allowDevices: vmmDeviceRules(root.device) };
  }

  /** What the jail of a sandbox's VMM holds (see vmm-jail.ts); `restore` for a VM loaded from a snapshot. */
  jailRequest(sandboxId: string, dir: string, hostId: number, device: string, netnsPath: string, cgroupProcs: string[], restore?: VmmJailRequest['restore']): VmmJailRequest {
    return {
      binary: this.options.binary,
      sandboxId,
      sandboxDir: dir,
      // Its own id range, taken host-wide like a namespace sandbox's: no two live VMMs (or
      // sandboxes of any runtime or agent on the machine) share an id.
      hostId,
      cgroupProcs,
      netnsPath,
      kernelPath: this.options.kernelPath,
      stableDir: this.options.stableDir,
      rootfsDevice: device,
      restore,
      runtimeDirs: this.options.vmmRuntimeDirs,
    };
  }

  client(apiSocket: string): FirecrackerClient {
    return new FirecrackerClient(apiSocket, { timeoutMs: this.options.apiTimeoutMs ?? 60_000 });
  }

  async boot(request: BootRequest<FirecrackerRoot, FirecrackerMemory>): Promise<FirecrackerBooted> {
    const id = request.spec.sandboxId;
    const memory = request.memory;
    let server: MemoryServer | undefined;
    let vmm: VmmProcess | undefined;
    try {
      let restore: VmmJailRequest['restore'];
      if (memory) {
        const socketPath = join(request.dir, UFFD_SOCKET);
        await rm(socketPath, { force: true });
        server = await this.options.memory.serve({ socketPath, memfileDir: memory.dir, buildId: memory.buildId, logPath: join(request.dir, 'page-server.log') });
        this.servers.set(id, server);
        restore = { vmstate: memory.vmstate, uffdSocket: socketPath };
      }
      vmm = await launchVmm(this.jailRequest(id, request.dir, request.ids.hostRoot, request.root.device, request.slot.netnsPath, request.cgroup.procsFiles, restore));
      const launched = vmm;
      const client = this.client(vmm.apiSocket);
      await client.waitReady(10_000, () => isVmmAlive(launched));
      if (memory) {
        // Both are bound into the VMM's jail, at its own paths.
        await client.loadSnapshot({
          snapshot_path: IN_JAIL.vmstate,
          mem_backend: { backend_type: 'Uffd', backend_path: IN_JAIL.uffdSocket },
          track_dirty_pages: true,
          resume_vm: true,
          // A paused sandbox wakes with the current time, not the time it was paused at (x86 only).
          ...(process.arch === 'x64' ? { clock_realtime: true } : {}),
        });
      } else {
        const guest = request.slot.guest;
        if (!guest) throw new Error('the network slot has no guest TAP');
        await client.putMachineConfig(machineConfig(request.spec));
        await client.putBootSource({ kernel_image_path: IN_JAIL.kernel, boot_args: bootArgs(request.spec, request.slot.nameservers, guest.ipBootArg) });
        await client.putDrive(rootDrive(this.options.stableDir));
        await client.putNetworkInterface(guestInterface(guest.tap, guest.mac));
        await client.startInstance();
      }
      const booted: FirecrackerBooted = { vmm: { pid: vmm.pid, startTime: vmm.startTime, apiSocket: vmm.apiSocket }, pageServed: !!memory };
      if (memory) {
        booted.pageServer = server!.ref;
        booted.memfileDir = memory.dir;
      }
      return booted;
    } catch (error) {
      if (vmm) await stopVmm(vmm).catch(() => undefined);
      await this.stopServer(id, request.dir).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Stops the VMM (and with it the guest), then its page server, which exits by itself once its
   * VM hangs up (stopping it is for the rare one that did not). Without a record of the VMM (a
   * half-made sandbox), its processes are found by what they name on their command lines.
   */
  async kill(booted: FirecrackerBooted | undefined, dir: string): Promise<void> {
    const sandboxId = dir.split('/').pop()!;
    if (booted) await stopVmm(booted.vmm);
    else await this.killByMarks(sandboxId, dir);
    await this.stopServer(sandboxId, dir, booted?.pageServer);
  }

  isAlive(booted: FirecrackerBooted): Promise<boolean> {
    return isVmmAlive(booted.vmm);
  }

  /** Pauses the vCPUs: the guest stands still, so its memory and its disk agree. */
  freeze(booted: FirecrackerBooted): Promise<void> {
    return this.client(booted.vmm.apiSocket).pause();
  }

  thaw(booted: FirecrackerBooted): Promise<void> {
    return this.client(booted.vmm.apiSocket).resume();
  }

  /**
   * Writes snapshot `buildId` of a frozen VM into `target`: its vmstate, its memory file and the
   * header that makes the memory file a generation of `parent`'s chain (a new chain without one).
   * All or nothing: on a failure no file of it is left, in `target` or in the jail.
   */
  async snapshotMemory(booted: FirecrackerBooted, dir: string, o: { target: string; buildId: string; type: SnapshotType; parent: SnapshotHeader | null; sizeBytes: number }): Promise<SnapshotHeader> {
    const written = [`vmstate.${o.buildId}`, memfileName(o.buildId)];
    try {
      // The VMM writes into its jail's out dir; the files are checked and moved out of its reach.
      await this.client(booted.vmm.apiSocket).createSnapshot({ snapshot_path: `${IN_JAIL.outDir}/${written[0]}`, mem_file_path: `${IN_JAIL.outDir}/${written[1]}`, snapshot_type: o.type });
      await collectSnapshotFiles(hostPathInJail(dir, IN_JAIL.outDir), written, o.target);
      return await this.options.memory.record(o.target, o.buildId, o.type, o.sizeBytes, o.parent);
    } catch (error) {
      await discardSnapshotFiles(dir, o.target, o.buildId);
      throw error;
    }
  }

  /** Takes back a recorded page server after an agent restart; null when it is gone. */
  async adoptServer(sandboxId: string, ref: PageServerProcessRef): Promise<MemoryServer | null> {
    const server = await this.options.memory.adopt(ref);
    if (server) this.servers.set(sandboxId, server);
    return server;
  }

  /** Stops a sandbox's page server: the one this agent holds, else the recorded process if it still runs. */
  async stopServer(sandboxId: string, dir: string, ref?: PageServerProcessRef): Promise<void> {
    const server = this.servers.get(sandboxId) ?? (ref ? await this.options.memory.adopt(ref) : null);
    this.servers.delete(sandboxId);
    await server?.stop();
    await rm(join(dir, UFFD_SOCKET), { force: true });
  }

  /** Forgets the page servers (they are processes of their own and keep serving). */
  forgetServers(): void {
    this.servers.clear();
  }

  /** Its VMM names its instance id on the command line (a helper still jailing it, its jail dir), its page server its socket in its config. */
  private async killByMarks(sandboxId: string, dir: string): Promise<void> {
    const marks = [`\0--id\0${vmmInstanceId(sandboxId)}\0`, `\0${jailDirOf(dir)}\0`, JSON.stringify(join(dir, UFFD_SOCKET))];
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (!marks.some((mark) => cmdline.includes(mark))) continue;
      const started = await startTime(Number(entry));
      if (started) await stopVmm({ pid: Number(entry), startTime: started });
    }
  }
}

/** Removes snapshot `buildId`'s files from `target` and from the jail of the VMM of `dir`. */
export async function discardSnapshotFiles(dir: string, target: string, buildId: string): Promise<void> {
  const names = [`vmstate.${buildId}`, memfileName(buildId), headerFileName(buildId)];
  const outDir = hostPathInJail(dir, IN_JAIL.outDir);
  await Promise.all([...names.map((f) => rm(join(target, f), { force: true })), ...names.map((f) => rm(join(outDir, f), { force: true }))]);
}

/**
 * Moves snapshot files the VMM wrote into its jail's out dir to `target` (root's, out of its
 * reach). The VMM is not trusted with host paths: only a regular file with one link is taken
 * (never a symlink or a link to another file), checked again once it can no longer be swapped,
 * and made root's: vmstate readable (the next VMM, under another id, loads it), memory not.
 */
async function collectSnapshotFiles(outDir: string, names: string[], target: string): Promise<void> {
  const plainFile = async (path: string) => {
    const s = await lstat(path);
    if (!s.isFile() || s.nlink !== 1) throw new Error(`the VMM left ${path} as something other than a plain file`);
  };
  for (const name of names) {
    const from = join(outDir, name);
    const to = join(target, name);
    await plainFile(from);
    await rename(from, to);
    try {
      await plainFile(to);
      await chown(to, 0, 0);
      await chmod(to, name.startsWith('vmstate.') ? 0o644 : 0o600);
    } catch (error) {
      await rm(to, { force: true });
      throw error;
    }
  }
}

import { ErrorCode, ENVD_PORT, isSandboxId, requireSandboxId, SandboxSpec, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { CgroupManager } from '../../cgroups';
import { CleanupStack } from '../../cleanup/cleanup-stack';
import { EnvdClient } from '../../envd-client/envd.client';
import { initEnvdAccessToken, newEnvdAccessToken } from '../../envd-client/envd-token';
import { DmRootfs, DmSnapshotStore } from '../../rootfs/dm-snapshot.store';
import { headerFileName, memfileName, SnapshotHeader } from '../../snapshot';
import type { PageServerProcessRef } from '../../uffd';
import { RecoveryReport, RuntimeSandbox, SandboxMetrics, SandboxRuntime } from '../sandbox-runtime';
import { assertShape, bootArgs, guestInterface, machineConfig, rootDrive } from './boot-config';
import { SnapshotType } from './firecracker-api';
import { FirecrackerClient } from './firecracker.client';
import { MemoryServer, MemorySnapshots } from './memory-snapshots';
import { VmNetworks } from './vm-network';
import { startTime } from '../namespace/proc';
import { IdRanges } from '../namespace/id-ranges';
import { DEFAULT_ID_BASE } from '../namespace/sandbox-hardening';
import { hostPathInJail, IN_JAIL, jailDirOf, vmmDeviceRules, VmmJailRequest, vmmInstanceId } from './vmm-jail';
import { isVmmAlive, launchVmm, stopVmm, VmmProcess } from './vmm-process';

export interface FirecrackerRuntimeOptions {
  /** This runtime's files live under <stateDir>/firecracker. */
  stateDir: string;
  /** Base images: <imageDir>/firecracker/<template>.ext4 (built by images/firecracker/build.sh). */
  imageDir: string;
  /** The `firecracker` binary. */
  binary: string;
  /** Guest kernel (uncompressed vmlinux) every VM boots. */
  kernelPath: string;
  network: VmNetworks;
  rootfs: DmSnapshotStore;
  memory?: MemorySnapshots;
  /** Path inside every VMM's jail its root drive is under (recorded in snapshots: the same for all). */
  stableDir?: string;
  /** Per-VMM cgroups (cpu, memory, pids, and on v1 the devices a VMM opens). */
  cgroups: CgroupManager;
  /** First host id of the slots' id ranges: a VMM runs as the first id of its slot's range. */
  idBase?: number;
  /** Where the host's id ranges are recorded (shared with every agent and runtime of the machine). */
  idRangesDir?: string;
  /** Host directories a VMM binary that is not static needs in its jail (the test stand-in's Node). */
  vmmRuntimeDirs?: string[];
  /** Length of each sandbox's sparse CoW file: the most it can write beyond the image. */
  cowSizeBytes?: number;
  /** Waits until envd answers at `url` (default: envd's /health, polled). */
  waitForEnvd?: (url: string, timeoutMs: number) => Promise<void>;
  envdTimeoutMs?: number;
  /**
   * Gives a sandbox started from a template its own identity (the template's memory still names
   * the template's source): hostname, /etc/hosts, resolv.conf. Default: a command through envd.
   */
  setIdentity?: (envdUrl: string, sandboxId: string, nameservers: string[], accessToken: string) => Promise<void>;
  /**
   * Hands the guest's envd its access token once it answers (E2B's POST /init); `current` is the
   * token a VM resumed from a template's memory still holds. Default: initEnvdAccessToken.
   */
  initEnvd?: (envdUrl: string, token: string, current: string | undefined) => Promise<void>;
  apiTimeoutMs?: number;
  /** Builds a missing base image (default: none, prepare() then fails with what to do). */
  buildImage?: (template: string, target: string) => Promise<void>;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** A sandbox's record on disk (meta.json): present once its first start completed. */
interface VmMeta {
  sandboxId: string;
  spec: SandboxSpec;
  createdAt: string;
  state: 'running' | 'paused';
  /** Root drive: the (base or template) image and the sandbox's CoW file, kept across pauses. */
  imagePath: string;
  cowPath: string;
  /** Set while running. */
  vmm?: Pick<VmmProcess, 'pid' | 'startTime' | 'apiSocket'>;
  network?: { index: number; sandboxIp: string };
  /** The VMM's host ids while it runs (range `number` of the host's, taken host-wide). */
  ids?: { number: number; hostRoot: number; count: number };
  rootfs?: DmRootfs;
  /** Newest snapshot of the sandbox's own chain (its files under snapshot/). */
  snapshot?: { buildId: string; generations: number };
  /**
   * True when the running VM's dirty-page log starts at `snapshot`, so the next pause may write
   * a Diff on it. A snapshot outside the chain (a template) or a failed pause resets the log in
   * Firecracker, and the next pause must be a Full.
   */
  diffable: boolean;
  /** Memory served by a page server (a VM restored from a snapshot or a template). */
  pageServed: boolean;
  /** The token the guest's envd demands (kept in its memory across pauses; absent for older VMs). */
  envdAccessToken?: string;
  /** That page server's process, so a restarted agent can adopt or stop it. */
  pageServer?: PageServerProcessRef;
  /** Where the page server reads memory files from while the VM runs. */
  memfileDir?: string;
}

interface TemplateMeta {
  templateId: string;
  buildId: string;
  /** The token the envd in the template's memory holds (its source's), which a new VM's envd is moved off. */
  envdAccessToken?: string;
  vcpus: number;
  memoryMb: number;
  createdAt: string;
}

const META = 'meta.json';
const SNAPSHOT_DIR = 'snapshot';
const UFFD_SOCKET = 'uffd.sock';
const COW_FILE = 'rootfs.cow';
const TEMPLATE_ROOTFS = 'rootfs.ext4';
const TEMPLATE_META = 'template.json';
const TEMPLATE_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Memory a VMM uses beyond its guest's (its own heap, device emulation). */
const VMM_OVERHEAD_MB = 64;
/** Threads of a VMM beyond one per vCPU (VMM, API, and a few of its own). */
const VMM_THREADS = 16;

/**
 * Sandboxes as Firecracker microVMs. Each VM runs in its network slot's netns (TAP `tap0`), boots
 * the guest kernel on a device-mapper snapshot of the base image, with envd started by
 * wrenn-init. Pause snapshots the VM (Full, then Diffs on the chain up to the header's
 * generation limit) and frees the VMM, the slot and the dm device; resume restores on a new slot
 * with memory served on demand by the userfaultfd page server.
 */
export class FirecrackerRuntime implements SandboxRuntime {
  readonly kind = 'firecracker' as const;
  private readonly sandboxes = new Map<string, VmMeta>();
  private readonly servers = new Map<string, MemoryServer>();
  private readonly memory: MemorySnapshots;
  private readonly stableDir: string;

  private readonly idRanges: IdRanges;

  constructor(private readonly options: FirecrackerRuntimeOptions) {
    this.idRanges = new IdRanges(options.network.agentKey, options.idRangesDir, options.idBase ?? DEFAULT_ID_BASE);
    this.memory = options.memory ?? new MemorySnapshots();
    this.stableDir = options.stableDir ?? '/run/wrenn/fc-vm';
  }

  private get root(): string {
    return join(this.options.stateDir, 'firecracker');
  }
  private sandboxDir(id: string): string {
    return join(this.root, 'sandboxes', id);
  }
  private templateDir(templateId: string): string {
    return join(this.root, 'templates', templateId);
  }
  imagePath(template: string): string {
    return join(this.options.imageDir, 'firecracker', `${template}.ext4`);
  }

  async prepare(): Promise<void> {
    await mkdir(join(this.root, 'sandboxes'), { recursive: true });
    await mkdir(join(this.root, 'templates'), { recursive: true });
    if (!existsSync(this.options.kernelPath)) throw new Error(`guest kernel ${this.options.kernelPath} (WRENN_FC_KERNEL) does not exist`);
    const image = this.imagePath('base');
    if (!existsSync(image)) {
      if (!this.options.buildImage) throw new Error(`guest image ${image} does not exist: build it with images/firecracker/build.sh ${image}`);
      this.options.logger?.info({ image }, 'building the Firecracker guest image (first start only)');
      await mkdir(join(this.options.imageDir, 'firecracker'), { recursive: true });
      await this.options.buildImage('base', image);
    }
  }

  // ---------------------------------------------------------------- create

  async create(spec: SandboxSpec): Promise<RuntimeSandbox> {
    requireSandboxId(spec.sandboxId);
    assertShape(spec);
    const dir = this.sandboxDir(spec.sandboxId);
    if (existsSync(dir)) throw new WrennError(ErrorCode.SandboxExists, `sandbox ${spec.sandboxId} already exists on this host`);
    const template = spec.templateId ? await this.readTemplate(spec.templateId) : undefined;
    if (template && (template.vcpus !== spec.vcpus || template.memoryMb !== spec.memoryMb)) {
      throw new WrennError(ErrorCode.ValidationFailed, `template ${template.templateId} runs with ${template.vcpus} vcpus and ${template.memoryMb} MB`);
    }
    const imagePath = template ? join(this.templateDir(template.templateId), TEMPLATE_ROOTFS) : this.imagePath(spec.template);
    if (!existsSync(imagePath)) throw new WrennError(ErrorCode.TemplateNotFound, `template "${spec.templateId ?? spec.template}" has no image on this host`);

    const cleanup = new CleanupStack();
    const timer = new StepTimer();
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      cleanup.push('sandbox dir', () => rm(dir, { recursive: true, force: true }));
      const cowPath = join(dir, COW_FILE);
      const net = await this.options.network.acquire();
      cleanup.push('network', () => this.options.network.release(net.index));
      timer.mark('network');
      const rootfs = await this.options.rootfs.create(spec.sandboxId, imagePath, cowPath, this.options.cowSizeBytes ?? 8 * 1024 ** 3);
      timer.mark('rootfs');
      // The VM must be gone before its device is removed (pushed first, runs last).
      cleanup.push('rootfs', () => this.options.rootfs.remove(rootfs, { removeCow: true }));
      const meta: VmMeta = {
        sandboxId: spec.sandboxId,
        spec,
        createdAt: new Date().toISOString(),
        state: 'running',
        imagePath,
        cowPath,
        network: { index: net.index, sandboxIp: net.sandboxIp },
        rootfs,
        diffable: false,
        pageServed: false,
        envdAccessToken: newEnvdAccessToken(),
      };
      if (template) {
        const templateDir = this.templateDir(template.templateId);
        await this.startFromSnapshot(meta, net.netnsPath, cleanup, templateDir, template.buildId, join(templateDir, `vmstate.${template.buildId}`), timer);
      } else {
        const { vmm, client } = await this.startVmm(meta, net.netnsPath, cleanup);
        timer.mark('vmm');
        await client.putMachineConfig(machineConfig(spec));
        await client.putBootSource({ kernel_image_path: IN_JAIL.kernel, boot_args: bootArgs(spec, this.options.network.nameservers()) });
        await client.putDrive(rootDrive(this.stableDir));
        await client.putNetworkInterface(guestInterface());
        await client.startInstance();
        meta.vmm = vmm;
        timer.mark('boot');
      }
      await this.waitForEnvd(net.sandboxIp);
      // A booted envd takes the first token it is given; one from a template's memory still holds
      // the template source's, and only that one lets the new token in.
      await this.initEnvd(net.sandboxIp, meta.envdAccessToken!, template?.envdAccessToken);
      timer.mark('envd');
      if (template) {
        await (this.options.setIdentity ?? setIdentityThroughEnvd)(`http://${net.sandboxIp}:${ENVD_PORT}`, spec.sandboxId, this.options.network.nameservers(), meta.envdAccessToken!);
        timer.mark('identity');
      }
      await this.writeMeta(meta);
      this.sandboxes.set(spec.sandboxId, meta);
      this.options.logger?.info({ sandboxId: spec.sandboxId, templateId: spec.templateId, steps: timer.steps }, 'sandbox created');
      return { sandboxId: spec.sandboxId, pid: meta.vmm!.pid, dir };
    } catch (error) {
      await this.stopServer(spec.sandboxId);
      return cleanup.rollback(error);
    }
  }

  /**
   * What the jail of `meta`'s VMM holds (see vmm-jail.ts): the rootfs and slot are ready, its
   * cgroups made; `restore` for a VM loaded from a snapshot.
   */
  vmmRequest(meta: Pick<VmMeta, 'sandboxId' | 'network' | 'rootfs' | 'ids'>, netnsPath: string, cgroupProcs: string[], restore?: VmmJailRequest['restore']): VmmJailRequest {
    return {
      binary: this.options.binary,
      sandboxId: meta.sandboxId,
      sandboxDir: this.sandboxDir(meta.sandboxId),
      // Its own id range, taken host-wide like a namespace sandbox's: no two live VMMs (or
      // sandboxes of any runtime or agent on the machine) share an id.
      hostId: meta.ids!.hostRoot,
      cgroupProcs,
      netnsPath,
      kernelPath: this.options.kernelPath,
      stableDir: this.stableDir,
      rootfsDevice: meta.rootfs!.device,
      restore,
      runtimeDirs: this.options.vmmRuntimeDirs,
    };
  }

  /** Launches the VMM for `meta` (its rootfs and slot ready) in its cgroups and jail, and waits for its API. */
  private async startVmm(meta: VmMeta, netnsPath: string, cleanup: CleanupStack, restore?: VmmJailRequest['restore']): Promise<{ vmm: VmMeta['vmm'] & {}; client: FirecrackerClient }> {
    const cgroup = await this.options.cgroups.create(meta.sandboxId, {
      vcpus: meta.spec.vcpus,
      memoryMb: meta.spec.memoryMb + VMM_OVERHEAD_MB,
      pidsMax: meta.spec.vcpus + VMM_THREADS,
      allowDevices: vmmDeviceRules(meta.rootfs!.device),
    });
    cleanup.push('cgroup', () => this.options.cgroups.remove(meta.sandboxId));
    if (!meta.ids) {
      const ids = await this.idRanges.acquire(meta.sandboxId, meta.network!.index);
      meta.ids = ids;
      cleanup.push('id range', async () => {
        await this.idRanges.release(ids.number);
        meta.ids = undefined;
      });
    }
    const vmm = await launchVmm(this.vmmRequest(meta, netnsPath, cgroup.procsFiles, restore));
    cleanup.push('vmm', () => stopVmm(vmm));
    const client = this.client(vmm.apiSocket);
    await client.waitReady(10_000, () => isVmmAlive(vmm));
    return { vmm: { pid: vmm.pid, startTime: vmm.startTime, apiSocket: vmm.apiSocket }, client };
  }

  /** Page server for the chain ending at `buildId` in `memfileDir`, a fresh VMM, and a Uffd load that resumes the VM. */
  private async startFromSnapshot(meta: VmMeta, netnsPath: string, cleanup: CleanupStack, memfileDir: string, buildId: string, vmstate: string, timer: StepTimer): Promise<void> {
    const socketPath = join(this.sandboxDir(meta.sandboxId), UFFD_SOCKET);
    await rm(socketPath, { force: true });
    const server = await this.memory.serve({ socketPath, memfileDir, buildId, logPath: join(this.sandboxDir(meta.sandboxId), 'page-server.log') });
    this.servers.set(meta.sandboxId, server);
    meta.pageServer = server.ref;
    cleanup.push('page server', () => this.stopServer(meta.sandboxId));
    timer.mark('page server');
    const { vmm, client } = await this.startVmm(meta, netnsPath, cleanup, { vmstate, uffdSocket: socketPath });
    timer.mark('vmm');
    // Both are bound into the VMM's jail, at its own paths.
    await client.loadSnapshot({
      snapshot_path: IN_JAIL.vmstate,
      mem_backend: { backend_type: 'Uffd', backend_path: IN_JAIL.uffdSocket },
      track_dirty_pages: true,
      resume_vm: true,
      // A paused sandbox wakes with the current time, not the time it was paused at (x86 only).
      ...(process.arch === 'x64' ? { clock_realtime: true } : {}),
    });
    timer.mark('load');
    meta.vmm = vmm;
    meta.pageServed = true;
    meta.memfileDir = memfileDir;
  }

  // ---------------------------------------------------------------- pause / resume

  async pause(sandboxId: string): Promise<{ snapshotRef: string; sizeBytes: number }> {
    const meta = await this.running(sandboxId);
    const timer = new StepTimer();
    const dir = this.sandboxDir(sandboxId);
    const snapshotDir = join(dir, SNAPSHOT_DIR);
    await mkdir(snapshotDir, { recursive: true });
    const parent = meta.snapshot && meta.diffable ? await this.memory.read(snapshotDir, meta.snapshot.buildId) : null;
    const type = this.memory.nextType(parent);
    const { buildId, header } = await this.snapshot(meta, snapshotDir, type, parent, timer);

    const previous = meta.snapshot;
    const paused: VmMeta = { ...meta, state: 'paused', snapshot: { buildId, generations: header.generations.length }, diffable: false };
    try {
      await this.writeMeta(paused);
    } catch (error) {
      // Not recorded, so not paused: drop the new files and let the VM run on.
      await this.abandonSnapshot(meta, snapshotDir, buildId, error);
    }
    // Recorded: from here the sandbox is paused, whatever else fails.
    this.sandboxes.set(sandboxId, paused);
    await this.release(paused, { removeCow: false }).catch((error) =>
      this.options.logger?.warn({ sandboxId, err: error }, 'paused; some resources of the VM are still held and are retried on resume or destroy'),
    );
    timer.mark('release');
    await this.pruneSnapshots(snapshotDir, header, previous?.buildId);
    this.options.logger?.info({ sandboxId, type, buildId, generations: header.generations.length, steps: timer.steps }, 'sandbox paused');
    return { snapshotRef: `${sandboxId}/${buildId}`, sizeBytes: await this.diskBytes(paused) };
  }

  /**
   * Pauses the vCPUs and writes snapshot `buildId` (vmstate, memfile, header) into `snapshotDir`.
   * If anything fails after the pause, the files are removed and the vCPUs resumed, so the VM
   * stays usable; its dirty-page log is then unreliable and the next pause writes a Full.
   */
  private async snapshot(meta: VmMeta, snapshotDir: string, type: SnapshotType, parent: SnapshotHeader | null, timer = new StepTimer()): Promise<{ buildId: string; header: SnapshotHeader }> {
    const client = this.client(meta.vmm!.apiSocket);
    const buildId = ulid().toLowerCase();
    const written = [`vmstate.${buildId}`, memfileName(buildId)];
    await client.pause();
    timer.mark('vcpus paused');
    try {
      // The VMM writes into its jail's out dir; the files are checked and moved out of its reach.
      await client.createSnapshot({ snapshot_path: `${IN_JAIL.outDir}/${written[0]}`, mem_file_path: `${IN_JAIL.outDir}/${written[1]}`, snapshot_type: type });
      await this.collectSnapshotFiles(meta.sandboxId, written, snapshotDir);
      timer.mark('snapshot');
      const header = await this.memory.record(snapshotDir, buildId, type, meta.spec.memoryMb * 1024 * 1024, parent);
      timer.mark('header');
      return { buildId, header };
    } catch (error) {
      return this.abandonSnapshot(meta, snapshotDir, buildId, error);
    }
  }

  /**
   * Undoes a snapshot that will not be used: removes its files and resumes the vCPUs, so the VM
   * stays usable; its dirty-page log no longer matches its chain, so the next pause is a Full.
   * Rethrows `cause`.
   */
  private async abandonSnapshot(meta: VmMeta, snapshotDir: string, buildId: string, cause: unknown): Promise<never> {
    const names = [`vmstate.${buildId}`, memfileName(buildId), headerFileName(buildId)];
    const outDir = hostPathInJail(this.sandboxDir(meta.sandboxId), IN_JAIL.outDir);
    await Promise.all([...names.map((f) => rm(join(snapshotDir, f), { force: true })), ...names.map((f) => rm(join(outDir, f), { force: true }))]);
    try {
      await this.client(meta.vmm!.apiSocket).resume();
    } catch (resumeError) {
      throw new AggregateError([cause, resumeError], `snapshot failed (${(cause as Error).message}) and the VM could not be resumed (${(resumeError as Error).message})`);
    }
    if (meta.diffable) {
      meta.diffable = false;
      await this.writeMeta(meta).catch(() => undefined);
    }
    throw cause;
  }

  /**
   * Moves snapshot files the VMM wrote into its jail's out dir to `target` (root's, out of its
   * reach). The VMM is not trusted with host paths: only a regular file with one link is taken
   * (never a symlink or a link to another file), checked again once it can no longer be swapped,
   * and made root's: vmstate readable (the next VMM, under another id, loads it), memory not.
   */
  private async collectSnapshotFiles(sandboxId: string, names: string[], target: string): Promise<void> {
    const outDir = hostPathInJail(this.sandboxDir(sandboxId), IN_JAIL.outDir);
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

  async resume(spec: SandboxSpec, snapshotRef: string): Promise<RuntimeSandbox> {
    requireSandboxId(spec.sandboxId);
    const meta = this.sandboxes.get(spec.sandboxId) ?? (await this.readMeta(spec.sandboxId));
    if (!meta || meta.state !== 'paused' || !meta.snapshot) throw new WrennError(ErrorCode.InvalidState, `sandbox ${spec.sandboxId} has no paused snapshot on this host`);
    if (snapshotRef !== `${spec.sandboxId}/${meta.snapshot.buildId}`) {
      throw new WrennError(ErrorCode.InvalidState, `snapshot ${snapshotRef} is not the current snapshot of ${spec.sandboxId}`);
    }
    // Whatever a previous pause could not free goes first (a device still named like ours would block).
    await this.release(meta, { removeCow: false });
    const dir = this.sandboxDir(spec.sandboxId);
    const snapshotDir = join(dir, SNAPSHOT_DIR);
    const attempt: VmMeta = { ...meta, state: 'running', vmm: undefined, network: undefined, rootfs: undefined };
    const cleanup = new CleanupStack();
    const timer = new StepTimer();
    try {
      const net = await this.options.network.acquire();
      cleanup.push('network', () => this.options.network.release(net.index));
      attempt.network = { index: net.index, sandboxIp: net.sandboxIp };
      timer.mark('network');
      const rootfs = await this.options.rootfs.restore(spec.sandboxId, meta.imagePath, meta.cowPath);
      cleanup.push('rootfs', () => this.options.rootfs.remove(rootfs, { removeCow: false }));
      attempt.rootfs = rootfs;
      timer.mark('rootfs');
      await this.startFromSnapshot(attempt, net.netnsPath, cleanup, snapshotDir, meta.snapshot.buildId, join(snapshotDir, `vmstate.${meta.snapshot.buildId}`), timer);
      await this.waitForEnvd(net.sandboxIp);
      // The resumed envd still holds its token. One paused before envd had one gets one now.
      if (!attempt.envdAccessToken) {
        attempt.envdAccessToken = newEnvdAccessToken();
        await this.initEnvd(net.sandboxIp, attempt.envdAccessToken, undefined);
      }
      timer.mark('envd');
      // Loaded with dirty tracking from this snapshot on: the next pause can diff on it.
      attempt.diffable = true;
      await this.writeMeta(attempt);
      this.sandboxes.set(spec.sandboxId, attempt);
      this.options.logger?.info({ sandboxId: spec.sandboxId, buildId: meta.snapshot.buildId, steps: timer.steps }, 'sandbox resumed');
      return { sandboxId: spec.sandboxId, pid: attempt.vmm!.pid, dir };
    } catch (error) {
      // The paused record and every snapshot file are untouched: a retry starts from the same state.
      await this.stopServer(spec.sandboxId);
      return cleanup.rollback(error);
    }
  }

  async listPaused(): Promise<string[]> {
    return [...this.sandboxes.values()].filter((m) => m.state === 'paused').map((m) => m.sandboxId).sort();
  }

  // ---------------------------------------------------------------- templates

  /**
   * Freezes a running sandbox into a template: a Full snapshot and the flattened root drive
   * taken while the vCPUs are paused (so disk and memory agree), then the VM resumes.
   */
  async createTemplate(sandboxId: string, templateId: string): Promise<{ sizeBytes: number }> {
    if (!TEMPLATE_ID.test(templateId)) throw new WrennError(ErrorCode.ValidationFailed, `"${templateId}" is not a template id`);
    const meta = await this.running(sandboxId);
    const target = this.templateDir(templateId);
    if (existsSync(target)) throw new WrennError(ErrorCode.TemplateExists, `template ${templateId} already exists on this host`);
    const tmp = `${target}.tmp-${ulid().toLowerCase()}`;
    await mkdir(tmp, { recursive: true });
    try {
      const { buildId } = await this.snapshot(meta, tmp, 'Full', null);
      const client = this.client(meta.vmm!.apiSocket);
      try {
        await this.options.rootfs.flatten(meta.rootfs!, join(tmp, TEMPLATE_ROOTFS));
      } finally {
        await client.resume();
        // Firecracker restarted its dirty-page log at this snapshot, which is not the sandbox's.
        meta.diffable = false;
        await this.writeMeta(meta);
      }
      const t: TemplateMeta = { templateId, buildId, envdAccessToken: meta.envdAccessToken, vcpus: meta.spec.vcpus, memoryMb: meta.spec.memoryMb, createdAt: new Date().toISOString() };
      // It names a live envd's token: root's alone.
      await writeFile(join(tmp, TEMPLATE_META), JSON.stringify(t), { mode: 0o600 });
      await rename(tmp, target);
      return { sizeBytes: await dirBytes(target) };
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
  }

  async deleteTemplate(templateId: string): Promise<void> {
    if (!TEMPLATE_ID.test(templateId)) throw new WrennError(ErrorCode.ValidationFailed, `"${templateId}" is not a template id`);
    // Running sandboxes keep the files they opened (loop device, page server mappings).
    await rm(this.templateDir(templateId), { recursive: true, force: true });
  }

  private async readTemplate(templateId: string): Promise<TemplateMeta> {
    if (!TEMPLATE_ID.test(templateId)) throw new WrennError(ErrorCode.ValidationFailed, `"${templateId}" is not a template id`);
    try {
      return JSON.parse(await readFile(join(this.templateDir(templateId), TEMPLATE_META), 'utf8')) as TemplateMeta;
    } catch {
      throw new WrennError(ErrorCode.TemplateNotFound, `template ${templateId} has no files on this host`);
    }
  }

  // ---------------------------------------------------------------- destroy and queries

  async destroy(sandboxId: string): Promise<void> {
    requireSandboxId(sandboxId);
    const dir = this.sandboxDir(sandboxId);
    const meta = this.sandboxes.get(sandboxId) ?? (await this.readMeta(sandboxId));
    const errors: Error[] = [];
    try {
      if (meta) await this.release(meta, { removeCow: true });
      else await this.removeHalfMade(sandboxId);
    } catch (error) {
      errors.push(error as Error);
    }
    if (errors.length === 0) {
      await rm(dir, { recursive: true, force: true });
      this.sandboxes.delete(sandboxId);
      return;
    }
    throw new AggregateError(errors, `destroy of ${sandboxId} incomplete: ${errors.map((e) => e.message).join('; ')}`);
  }

  /**
   * Frees what a sandbox holds on the host, in order: the VMM (and with it the guest), its page
   * server, its dm device (only once the VMM is gone), its slot. Every step is tried; what is
   * freed is dropped from the record, so a retry only redoes what failed.
   */
  private async release(meta: VmMeta, options: { removeCow: boolean }): Promise<void> {
    const errors: Error[] = [];
    let vmmGone = true;
    if (meta.vmm) {
      try {
        await stopVmm(meta.vmm);
        meta.vmm = undefined;
      } catch (error) {
        vmmGone = false;
        errors.push(error as Error);
      }
    }
    // The page server exits by itself once its VM hangs up; stopping it is for the rare one that did not.
    try {
      await this.stopServer(meta.sandboxId, meta.pageServer);
      meta.pageServer = undefined;
    } catch (error) {
      errors.push(error as Error);
    }
    // With the VMM gone, the device and the slot are independent of each other.
    const rootfs = async () => {
      if (meta.rootfs && vmmGone) {
        await this.options.rootfs.remove(meta.rootfs, options);
        meta.rootfs = undefined;
      } else if (!meta.rootfs && options.removeCow) {
        await rm(meta.cowPath, { force: true });
      }
    };
    const cgroup = async () => {
      if (!vmmGone) return;
      await this.options.cgroups.remove(meta.sandboxId);
      if (meta.ids) {
        await this.idRanges.release(meta.ids.number);
        meta.ids = undefined;
      }
    };
    const network = async () => {
      if (meta.network && vmmGone) {
        await this.options.network.release(meta.network.index);
        meta.network = undefined;
      }
    };
    for (const result of await Promise.allSettled([rootfs(), network(), cgroup()])) {
      if (result.status === 'rejected') errors.push(result.reason as Error);
    }
    if (!options.removeCow) await this.writeMeta(meta).catch((error) => errors.push(error as Error));
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  /** A sandbox that never got its meta.json: whatever it may hold is found by name. */
  private async removeHalfMade(sandboxId: string): Promise<void> {
    const dir = this.sandboxDir(sandboxId);
    // Its VMM names its instance id on the command line (a helper still jailing it, its jail dir),
    // its page server its socket in its config.
    const marks = [`\0--id\0${vmmInstanceId(sandboxId)}\0`, `\0${jailDirOf(dir)}\0`, JSON.stringify(join(dir, UFFD_SOCKET))];
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (!marks.some((mark) => cmdline.includes(mark))) continue;
      const started = await startTime(Number(entry));
      if (started) await stopVmm({ pid: Number(entry), startTime: started });
    }
    await this.stopServer(sandboxId);
    await this.options.cgroups.remove(sandboxId);
    // Its device, if it got one, is named after it; the CoW loop goes with the file's users.
    const device = this.options.rootfs.nameFor(sandboxId);
    if ((await this.options.rootfs.listDevices()).includes(device)) await this.options.rootfs.removeByName(device, join(dir, COW_FILE));
  }

  async endpoint(sandboxId: string): Promise<{ envdUrl: string; accessToken?: string }> {
    const meta = await this.running(sandboxId);
    return { envdUrl: `http://${meta.network!.sandboxIp}:${ENVD_PORT}`, accessToken: meta.envdAccessToken };
  }

  async list(): Promise<string[]> {
    const ids: string[] = [];
    for (const [id, meta] of this.sandboxes) if (meta.state === 'running' && meta.vmm && (await isVmmAlive(meta.vmm))) ids.push(id);
    return ids.sort();
  }

  async resources(sandboxId: string): Promise<{ vcpus: number; memoryMb: number }> {
    const meta = this.sandboxes.get(sandboxId) ?? (await this.readMeta(sandboxId));
    if (!meta) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${sandboxId} is not on this host`);
    return { vcpus: meta.spec.vcpus, memoryMb: meta.spec.memoryMb };
  }

  /** The VMM process as seen by the host: its CPU time and resident memory; disk = CoW bytes. */
  async metrics(sandboxId: string): Promise<SandboxMetrics> {
    const meta = await this.running(sandboxId);
    const pid = meta.vmm!.pid;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return {
      cpuUsageUsec: Math.round((ticks * 1e6) / 100),
      memoryBytes: rssKb * 1024,
      memoryLimitBytes: meta.spec.memoryMb * 1024 * 1024,
      pids: 0,
      oomKills: 0,
      diskBytes: await this.options.rootfs.cowBytes(meta.cowPath),
      vcpus: meta.spec.vcpus,
      memoryMb: meta.spec.memoryMb,
    };
  }

  // ---------------------------------------------------------------- agent lifecycle

  /**
   * At agent start: running VMs are re-adopted by pid + start time, a restored one together
   * with its page server process. A restored VM whose page server is gone cannot continue: it
   * is stopped and the sandbox goes back to its last snapshot (paused), or is removed when it
   * has none of its own (started from a template). Half-made sandboxes go.
   */
  async recover(): Promise<RecoveryReport> {
    await mkdir(join(this.root, 'sandboxes'), { recursive: true });
    const report: RecoveryReport = { adopted: [], removed: [] };
    // Every image a sandbox of ours refers to, with how many adopted VMs still use its loop device.
    const users = new Map<string, number>();
    for (const name of (await readdir(join(this.root, 'sandboxes'))).sort()) {
      if (!isSandboxId(name)) continue;
      const meta = await this.readMeta(name);
      if (!meta) {
        await this.removeHalfMade(name).catch(() => undefined);
        await rm(this.sandboxDir(name), { recursive: true, force: true });
        report.removed.push(name);
        continue;
      }
      if (!users.has(meta.imagePath)) users.set(meta.imagePath, 0);
      const alive = meta.state === 'running' && meta.vmm && (await isVmmAlive(meta.vmm));
      // A restored VM needs its page server: adopted together, or not at all.
      const server = alive && meta.pageServed && meta.pageServer ? await this.memory.adopt(meta.pageServer) : null;
      if (alive && (!meta.pageServed || server)) {
        if (server) this.servers.set(name, server);
        // The previous agent may have died between a snapshot and its record: a Full is safe.
        meta.diffable = false;
        this.sandboxes.set(name, meta);
        report.adopted.push(name);
        if (meta.rootfs) users.set(meta.imagePath, (users.get(meta.imagePath) ?? 0) + 1);
        continue;
      }
      if (meta.vmm) await stopVmm(meta.vmm).catch(() => undefined);
      meta.vmm = undefined;
      await this.options.cgroups.remove(name).catch(() => undefined);
      await this.stopServer(name, meta.pageServer).catch(() => undefined);
      meta.pageServer = undefined;
      if (meta.snapshot && existsSync(join(this.sandboxDir(name), SNAPSHOT_DIR, `vmstate.${meta.snapshot.buildId}`))) {
        // Devices and slots are released below (by name / by the network recovery).
        meta.state = 'paused';
        meta.diffable = false;
        this.sandboxes.set(name, meta);
      } else {
        await this.destroy(name).catch((error) => this.options.logger?.warn({ sandboxId: name, err: error }, 'could not remove a dead sandbox'));
        report.removed.push(name);
      }
    }
    for (const meta of this.sandboxes.values()) {
      if (meta.state !== 'paused' || !meta.rootfs) continue;
      await this.options.rootfs.remove(meta.rootfs, { removeCow: false }).catch(() => undefined);
      meta.rootfs = undefined;
      meta.network = undefined;
      await this.writeMeta(meta);
    }
    await this.options.rootfs.loops.recover(users);
    await this.options.network.recover(report.adopted.map((id) => this.sandboxes.get(id)!.network!.index));
    // The id ranges of VMMs that died with the previous agent are free again.
    await this.idRanges.releaseAllBut(report.adopted.flatMap((id) => this.sandboxes.get(id)?.ids?.number ?? []));
    await this.options.network.start();
    return report;
  }

  /** Stops background work; VMs and their page servers (own processes) keep running. */
  async shutdown(): Promise<void> {
    this.servers.clear();
    const empty = (await this.list()).length === 0;
    await this.options.network.stop({ removeHostRules: empty });
    if (empty) await this.options.cgroups.removeGroup();
  }

  // ---------------------------------------------------------------- helpers

  private client(apiSocket: string): FirecrackerClient {
    return new FirecrackerClient(apiSocket, { timeoutMs: this.options.apiTimeoutMs ?? 60_000 });
  }

  private async waitForEnvd(sandboxIp: string): Promise<void> {
    const url = `http://${sandboxIp}:${ENVD_PORT}`;
    const timeout = this.options.envdTimeoutMs ?? 30_000;
    if (this.options.waitForEnvd) return this.options.waitForEnvd(url, timeout);
    const envd = new EnvdClient(url);
    try {
      await envd.waitHealthy(timeout, 10);
    } finally {
      envd.close();
    }
  }

  private async initEnvd(sandboxIp: string, token: string, current: string | undefined): Promise<void> {
    await (this.options.initEnvd ?? initEnvdAccessToken)(`http://${sandboxIp}:${ENVD_PORT}`, token, current);
  }

  /** Stops a sandbox's page server: the one this agent holds, else the recorded process if it still runs. */
  private async stopServer(sandboxId: string, ref?: PageServerProcessRef): Promise<void> {
    const server = this.servers.get(sandboxId) ?? (ref ? await this.memory.adopt(ref) : null);
    this.servers.delete(sandboxId);
    await server?.stop();
    await rm(join(this.sandboxDir(sandboxId), UFFD_SOCKET), { force: true });
  }

  private async running(sandboxId: string): Promise<VmMeta> {
    requireSandboxId(sandboxId);
    const meta = this.sandboxes.get(sandboxId);
    if (!meta) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${sandboxId} is not on this host`);
    if (meta.state !== 'running' || !meta.vmm || !(await isVmmAlive(meta.vmm))) {
      throw new WrennError(meta.state === 'paused' ? ErrorCode.InvalidState : ErrorCode.SandboxNotFound, `sandbox ${sandboxId} is not running on this host`);
    }
    return meta;
  }

  /** Removes snapshot files no longer reachable from the newest header. */
  private async pruneSnapshots(snapshotDir: string, header: SnapshotHeader, previousBuildId: string | undefined): Promise<void> {
    const keep = new Set([...header.generations.map(memfileName), `vmstate.${header.generations.at(-1)}`, headerFileName(header.generations.at(-1)!)]);
    if (previousBuildId && header.generations.includes(previousBuildId)) keep.add(headerFileName(previousBuildId));
    for (const name of await readdir(snapshotDir)) if (!keep.has(name)) await rm(join(snapshotDir, name), { force: true });
  }

  private async diskBytes(meta: VmMeta): Promise<number> {
    return (await dirBytes(join(this.sandboxDir(meta.sandboxId), SNAPSHOT_DIR))) + (await this.options.rootfs.cowBytes(meta.cowPath).catch(() => 0));
  }

  private async readMeta(sandboxId: string): Promise<VmMeta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.sandboxDir(sandboxId), META), 'utf8')) as VmMeta;
    } catch {
      return undefined;
    }
  }

  /** Atomic: a crash leaves the previous record or the new one. */
  private async writeMeta(meta: VmMeta): Promise<void> {
    const dir = this.sandboxDir(meta.sandboxId);
    // It holds envd's access token: root's alone.
    await writeFile(join(dir, `${META}.tmp`), JSON.stringify(meta), { mode: 0o600 });
    await rename(join(dir, `${META}.tmp`), join(dir, META));
  }
}

/** What wrenn-init does at boot for hostname, hosts and resolv.conf, done again in a running guest. */
export const IDENTITY_SCRIPT = String.raw`
set -eu
printf %s "$1" > /proc/sys/kernel/hostname
printf '%s\n' "$1" > /etc/hostname
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n' "$1" > /etc/hosts
shift
: > /etc/resolv.conf
for server in "$@"; do echo "nameserver $server" >> /etc/resolv.conf; done
echo "options timeout:2 attempts:2" >> /etc/resolv.conf
`;

async function setIdentityThroughEnvd(envdUrl: string, sandboxId: string, nameservers: string[], accessToken: string): Promise<void> {
  const envd = new EnvdClient(envdUrl, accessToken);
  try {
    const r = await envd.exec({ cmd: '/bin/sh', args: ['-c', IDENTITY_SCRIPT, 'wrenn-identity', sandboxId, ...nameservers], user: 'root' }, 10);
    if (r.exitCode !== 0) throw new Error(`setting the sandbox identity failed (${r.exitCode}): ${r.stderr.trim()}`);
  } finally {
    envd.close();
  }
}

/** Durations of an operation's steps, for the log (and the benchmark that reads it). */
class StepTimer {
  readonly steps: Record<string, number> = {};
  private last = performance.now();
  mark(step: string): void {
    const now = performance.now();
    this.steps[step] = Math.round((now - this.last) * 10) / 10;
    this.last = now;
  }
}

/** Bytes allocated on disk by the files directly in `dir` (sparse files count what they hold). */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s?.isFile()) total += s.blocks * 512;
  }
  return total;
}


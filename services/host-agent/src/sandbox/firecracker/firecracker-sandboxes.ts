import { ErrorCode, ENVD_PORT, isSandboxId, requireSandboxId, SandboxSpec, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { CgroupManager } from '../../cgroups';
import { EnvdSessionOpener } from '../../envd-client/envd-session';
import { newEnvdAccessToken } from '../../envd-client/envd-token';
import { GUEST_NETWORK, guestIpBootArg, SandboxNetwork, VmNetworks } from '../../networking';
import { DmRoot, DmRootfsStore, DmSource } from '../../rootfs/dm-rootfs';
import { DmRootfs, DmSnapshotStore } from '../../rootfs/dm-snapshot.store';
import { headerFileName, memfileName, SnapshotHeader } from '../../snapshot';
import type { PageServerProcessRef } from '../../uffd';
import { SlotView } from '../../runtime/driver';
import { RecoveryReport, RuntimeSandbox, SandboxMetrics, SandboxRuntime } from '../../runtime/sandbox-runtime';
import { assertShape } from '../../runtime/firecracker/boot-config';
import { SnapshotType } from '../../runtime/firecracker/firecracker-api';
import { discardSnapshotFiles, FirecrackerBooted, FirecrackerDriver, FirecrackerMemory } from '../../runtime/firecracker/firecracker.driver';
import { MemorySnapshots } from '../../runtime/firecracker/memory-snapshots';
import { IdRanges } from '../../ids/id-ranges';
import { DEFAULT_ID_BASE } from '../../runtime/namespace/sandbox-hardening';
import { VmmJailRequest } from '../../runtime/firecracker/vmm-jail';
import { isVmmAlive, VmmProcess } from '../../runtime/firecracker/vmm-process';
import { requireTemplateId } from '@wrenn/contracts';
import { freezeParts, PAUSE_ORDER, save, SavePart, SaveParts, SaveStepName, TEMPLATE_ORDER } from '../save';
import { start, StartResources, StartState, StartStepName, teardown } from '../lifecycle';

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
  /** Called before each step of a start (`start:<step>`); a throw fails the start there (failure injection). */
  checkpoint?: (step: string) => void | Promise<void>;
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
const COW_FILE = 'rootfs.cow';
const TEMPLATE_ROOTFS = 'rootfs.ext4';
const TEMPLATE_META = 'template.json';

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
  private readonly memory: MemorySnapshots;
  private readonly stableDir: string;
  private readonly idRanges: IdRanges;
  private readonly driver: FirecrackerDriver;
  /** The host resources a start takes, for the lifecycle (sandbox/lifecycle.ts); `record` is per start. */
  private readonly lifecycle: Omit<FcResources, 'record'>;

  constructor(private readonly options: FirecrackerRuntimeOptions) {
    this.idRanges = new IdRanges(options.network.agentKey, options.idRangesDir, options.idBase ?? DEFAULT_ID_BASE);
    this.memory = options.memory ?? new MemorySnapshots();
    this.stableDir = options.stableDir ?? '/run/wrenn/fc-vm';
    this.driver = new FirecrackerDriver({
      binary: options.binary,
      kernelPath: options.kernelPath,
      stableDir: this.stableDir,
      memory: this.memory,
      vmmRuntimeDirs: options.vmmRuntimeDirs,
      apiTimeoutMs: options.apiTimeoutMs,
    });
    const network = options.network;
    this.lifecycle = {
      slots: {
        acquire: async () => ({
          ...(await network.acquire()),
          nameservers: network.nameservers(),
          guest: { tap: GUEST_NETWORK.tap, mac: GUEST_NETWORK.guestMac, ipBootArg: guestIpBootArg() },
        }),
        release: (index) => network.release(index),
      },
      rootfs: new DmRootfsStore(options.rootfs),
      cgroups: options.cgroups,
      ids: this.idRanges,
      driver: this.driver,
      envd: new EnvdSessionOpener({
        timeoutMs: options.envdTimeoutMs ?? 30_000,
        pollMs: 10,
        waitForEnvd: options.waitForEnvd,
        initEnvd: options.initEnvd,
        setIdentity: options.setIdentity,
      }),
    };
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

    const state: FcState = {
      spec,
      name: spec.sandboxId,
      dir,
      source: { imagePath, cowPath: join(dir, COW_FILE), cowSizeBytes: this.options.cowSizeBytes ?? 8 * 1024 ** 3 },
      // A VM from a template's memory: its envd still holds the template source's token (only
      // that one lets the new one in) and its identity is the source's until set again.
      memory: template ? this.templateMemory(template) : undefined,
      envd: { token: newEnvdAccessToken(), current: template?.envdAccessToken, identity: !!template },
    };
    const timer = new StepTimer();
    let meta: VmMeta | undefined;
    await start(state, { ...this.lifecycle, record: async (s) => {
      meta = this.recordOf(s, { sandboxId: spec.sandboxId, spec, createdAt: new Date().toISOString(), state: 'running', imagePath, cowPath: state.source.cowPath, diffable: false, pageServed: false });
      await this.writeMeta(meta);
    } }, { checkpoint: (step) => this.startCheckpoint(step, timer) });
    timer.begin(undefined);
    this.sandboxes.set(spec.sandboxId, meta!);
    this.options.logger?.info({ sandboxId: spec.sandboxId, templateId: spec.templateId, steps: timer.steps }, 'sandbox created');
    return { sandboxId: spec.sandboxId, pid: meta!.vmm!.pid, dir };
  }

  private templateMemory(template: TemplateMeta): FirecrackerMemory {
    const dir = this.templateDir(template.templateId);
    return { dir, buildId: template.buildId, vmstate: join(dir, `vmstate.${template.buildId}`) };
  }

  /** The record of a started VM: what its start acquired, on top of what it keeps across pauses. */
  private recordOf(s: FcState, base: VmMeta): VmMeta {
    const booted = s.booted!;
    const { removeCow: _removeCow, ...rootfs } = s.root!;
    return {
      ...base,
      state: 'running',
      vmm: booted.vmm,
      network: { index: s.slot!.index, sandboxIp: s.slot!.sandboxIp },
      ids: s.ids,
      rootfs,
      pageServed: booted.pageServed,
      pageServer: booted.pageServer,
      memfileDir: booted.memfileDir,
      envdAccessToken: s.envd.token,
    };
  }

  /** The failure-injection hook before each start step, and the step's duration for the log. */
  private async startCheckpoint(step: StartStepName, timer: StepTimer): Promise<void> {
    timer.begin(step);
    await this.options.checkpoint?.(`start:${step}`);
  }

  /** What the jail of a sandbox's VMM holds (see vmm-jail.ts), for its checks. */
  vmmRequest(meta: Pick<VmMeta, 'sandboxId' | 'network' | 'rootfs' | 'ids'>, netnsPath: string, cgroupProcs: string[], restore?: VmmJailRequest['restore']): VmmJailRequest {
    return this.driver.jailRequest(meta.sandboxId, this.sandboxDir(meta.sandboxId), meta.ids!.hostRoot, meta.rootfs!.device, netnsPath, cgroupProcs, restore);
  }

  // ---------------------------------------------------------------- pause / resume

  async pause(sandboxId: string): Promise<{ snapshotRef: string; sizeBytes: number }> {
    const meta = await this.running(sandboxId);
    const timer = new StepTimer();
    const snapshotDir = join(this.sandboxDir(sandboxId), SNAPSHOT_DIR);
    await mkdir(snapshotDir, { recursive: true });
    const parent = meta.snapshot && meta.diffable ? await this.memory.read(snapshotDir, meta.snapshot.buildId) : null;
    const type = this.memory.nextType(parent);
    const buildId = ulid().toLowerCase();
    const previous = meta.snapshot;
    let header: SnapshotHeader | undefined;
    let paused: VmMeta | undefined;
    await save(
      PAUSE_ORDER,
      {
        ...this.vcpuParts(meta),
        'snapshot memory': this.memoryPart(meta, snapshotDir, buildId, type, parent, (h) => (header = h)),
        // The disk is the CoW file, which the paused sandbox keeps as it is.
        'snapshot disk': { run: async () => undefined },
        record: {
          run: async () => {
            paused = { ...meta, state: 'paused', snapshot: { buildId, generations: header!.generations.length }, diffable: false };
            await this.writeMeta(paused);
            this.sandboxes.set(sandboxId, paused);
          },
        },
        release: {
          run: async () => {
            await this.release(paused!, { removeCow: false }).catch((error) =>
              this.options.logger?.warn({ sandboxId, err: error }, 'paused; some resources of the VM are still held and are retried on resume or destroy'),
            );
            await this.pruneSnapshots(snapshotDir, header!, previous?.buildId);
          },
        },
      },
      { checkpoint: (step) => this.saveCheckpoint('pause', step, timer) },
    );
    timer.begin(undefined);
    this.options.logger?.info({ sandboxId, type, buildId, generations: header!.generations.length, steps: timer.steps }, 'sandbox paused');
    return { snapshotRef: `${sandboxId}/${buildId}`, sizeBytes: await this.diskBytes(paused!) };
  }

  /**
   * Freeze and thaw of a save: the VM's vCPUs paused and resumed. A thaw after a snapshot (a
   * failed pause, a template) leaves Firecracker's dirty-page log unrelated to the sandbox's
   * chain, so the next pause writes a Full.
   */
  private vcpuParts(meta: VmMeta): Pick<SaveParts, 'freeze' | 'thaw'> {
    const { freeze, thaw } = freezeParts(this.driver, this.bootedOf(meta), this.options.cgroups, meta.sandboxId);
    return {
      freeze,
      thaw: {
        run: async () => {
          await thaw.run();
          if (meta.diffable) {
            meta.diffable = false;
            await this.writeMeta(meta).catch(() => undefined);
          }
        },
      },
    };
  }

  /** Snapshot `buildId` of the frozen VM's memory into `target`; undone by removing its files. */
  private memoryPart(meta: VmMeta, target: string, buildId: string, type: SnapshotType, parent: SnapshotHeader | null, written: (header: SnapshotHeader) => void): SavePart {
    const dir = this.sandboxDir(meta.sandboxId);
    return {
      run: async () => written(await this.driver.snapshotMemory(this.bootedOf(meta), dir, { target, buildId, type, parent, sizeBytes: meta.spec.memoryMb * 1024 * 1024 })),
      undo: () => discardSnapshotFiles(dir, target, buildId),
    };
  }

  private bootedOf(meta: VmMeta): FirecrackerBooted {
    return { vmm: meta.vmm!, pageServed: meta.pageServed, pageServer: meta.pageServer, memfileDir: meta.memfileDir };
  }

  /** The failure-injection hook before each step of a save, and the step's duration for the log. */
  private async saveCheckpoint(op: 'pause' | 'template', step: SaveStepName, timer: StepTimer): Promise<void> {
    timer.begin(step);
    await this.options.checkpoint?.(`${op}:${step}`);
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
    const buildId = meta.snapshot.buildId;
    // The paused record and every snapshot file stay untouched until the start completes: a
    // failed resume leaves the same state for a retry.
    const state: FcState = {
      spec: meta.spec,
      name: spec.sandboxId,
      dir,
      source: { imagePath: meta.imagePath, cowPath: meta.cowPath },
      memory: { dir: snapshotDir, buildId, vmstate: join(snapshotDir, `vmstate.${buildId}`) },
      // The resumed envd still holds its token. One paused before envd had one gets one now.
      envd: meta.envdAccessToken ? { token: meta.envdAccessToken, held: true } : { token: newEnvdAccessToken() },
    };
    const timer = new StepTimer();
    let resumed: VmMeta | undefined;
    await start(state, { ...this.lifecycle, record: async (s) => {
      // Loaded with dirty tracking from this snapshot on: the next pause can diff on it.
      resumed = { ...this.recordOf(s, meta), diffable: true };
      await this.writeMeta(resumed);
    } }, { checkpoint: (step) => this.startCheckpoint(step, timer) });
    timer.begin(undefined);
    this.sandboxes.set(spec.sandboxId, resumed!);
    this.options.logger?.info({ sandboxId: spec.sandboxId, buildId, steps: timer.steps }, 'sandbox resumed');
    return { sandboxId: spec.sandboxId, pid: resumed!.vmm!.pid, dir };
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
    requireTemplateId(templateId);
    const meta = await this.running(sandboxId);
    const target = this.templateDir(templateId);
    if (existsSync(target)) throw new WrennError(ErrorCode.TemplateExists, `template ${templateId} already exists on this host`);
    const tmp = `${target}.tmp-${ulid().toLowerCase()}`;
    await mkdir(tmp, { recursive: true });
    const buildId = ulid().toLowerCase();
    try {
      await save(
        TEMPLATE_ORDER,
        {
          ...this.vcpuParts(meta),
          'snapshot memory': this.memoryPart(meta, tmp, buildId, 'Full', null, () => undefined),
          'snapshot disk': { run: async () => void (await this.options.rootfs.flatten(meta.rootfs!, join(tmp, TEMPLATE_ROOTFS))) },
          record: {
            run: async () => {
              const t: TemplateMeta = { templateId, buildId, envdAccessToken: meta.envdAccessToken, vcpus: meta.spec.vcpus, memoryMb: meta.spec.memoryMb, createdAt: new Date().toISOString() };
              // It names a live envd's token: root's alone.
              await writeFile(join(tmp, TEMPLATE_META), JSON.stringify(t), { mode: 0o600 });
              await rename(tmp, target);
            },
          },
        },
        { checkpoint: (step) => this.saveCheckpoint('template', step, new StepTimer()) },
      );
      return { sizeBytes: await dirBytes(target) };
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
  }

  async deleteTemplate(templateId: string): Promise<void> {
    requireTemplateId(templateId);
    // Running sandboxes keep the files they opened (loop device, page server mappings).
    await rm(this.templateDir(templateId), { recursive: true, force: true });
  }

  private async readTemplate(templateId: string): Promise<TemplateMeta> {
    requireTemplateId(templateId);
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
   * Frees what a sandbox holds on the host: the unwinding of its start, rebuilt from its record
   * (the VMM and its page server, then id range, cgroup, dm device and slot — those only once the
   * VMM is gone). Every step is tried; what is freed is dropped from the record, so a retry only
   * redoes what failed. `removeCow: false` (a pause) keeps the CoW file and the dir.
   */
  private async release(meta: VmMeta, options: { removeCow: boolean }): Promise<void> {
    const state: FcState = {
      spec: meta.spec,
      name: meta.sandboxId,
      dir: this.sandboxDir(meta.sandboxId),
      source: { imagePath: meta.imagePath, cowPath: meta.cowPath },
      envd: { token: '' },
      // The dir is the paused sandbox's; a destroy removes it itself once all else is released.
      dirCreated: false,
      slot: meta.network ? ({ ...meta.network, nameservers: [] } as unknown as FcSlot) : undefined,
      root: meta.rootfs ? { ...meta.rootfs, removeCow: options.removeCow } : undefined,
      ids: meta.ids,
      booted: meta.vmm ? { vmm: meta.vmm, pageServed: meta.pageServed, pageServer: meta.pageServer } : undefined,
    };
    let failure: unknown;
    try {
      // Nothing running without a VMM: a page server left behind is stopped all the same.
      if (!state.booted) await this.driver.stopServer(meta.sandboxId, state.dir, meta.pageServer);
      await teardown(state, { ...this.lifecycle, record: async () => undefined }).run();
    } catch (error) {
      failure = error;
    }
    meta.vmm = state.booted?.vmm;
    if (!state.booted) meta.pageServer = undefined;
    meta.network = state.slot ? { index: state.slot.index, sandboxIp: state.slot.sandboxIp } : undefined;
    meta.rootfs = state.root ? (({ removeCow: _r, ...rootfs }) => rootfs)(state.root) : undefined;
    meta.ids = state.ids;
    if (!meta.rootfs && options.removeCow) await rm(meta.cowPath, { force: true }).catch((error) => (failure ??= error));
    const errors: unknown[] = failure ? ((failure as AggregateError).errors ?? [failure]) : [];
    if (!options.removeCow) await this.writeMeta(meta).catch((error) => errors.push(error));
    if (errors.length) throw new AggregateError(errors, errors.map((e) => (e as Error).message).join('; '));
  }

  /** A sandbox that never got its meta.json: whatever it may hold is found by name. */
  private async removeHalfMade(sandboxId: string): Promise<void> {
    const dir = this.sandboxDir(sandboxId);
    await this.driver.kill(undefined, dir);
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
      const server = alive && meta.pageServed && meta.pageServer ? await this.driver.adoptServer(name, meta.pageServer) : null;
      if (alive && (!meta.pageServed || server)) {
        // The previous agent may have died between a snapshot and its record: a Full is safe.
        meta.diffable = false;
        this.sandboxes.set(name, meta);
        report.adopted.push(name);
        if (meta.rootfs) users.set(meta.imagePath, (users.get(meta.imagePath) ?? 0) + 1);
        continue;
      }
      await this.driver.kill(meta.vmm ? { vmm: meta.vmm, pageServed: meta.pageServed, pageServer: meta.pageServer } : undefined, this.sandboxDir(name)).catch(() => undefined);
      meta.vmm = undefined;
      await this.options.cgroups.remove(name).catch(() => undefined);
      await this.driver.stopServer(name, this.sandboxDir(name), meta.pageServer).catch(() => undefined);
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
    this.driver.forgetServers();
    const empty = (await this.list()).length === 0;
    await this.options.network.stop({ removeHostRules: empty });
    if (empty) await this.options.cgroups.removeGroup();
  }

  // ---------------------------------------------------------------- helpers

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

/** Durations of an operation's steps, for the log (and the benchmark that reads it). */
class StepTimer {
  readonly steps: Record<string, number> = {};
  private last = performance.now();
  private current: string | undefined;
  /** Ends the step under way (if any) and starts timing `step`. */
  begin(step: string | undefined): void {
    if (this.current) this.mark(this.current);
    else this.last = performance.now();
    this.current = step;
  }
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

type FcSlot = SandboxNetwork & SlotView;
type FcState = StartState<DmSource, DmRoot, FirecrackerBooted, FirecrackerMemory, FcSlot>;
type FcResources = StartResources<DmSource, DmRoot, FirecrackerBooted, FirecrackerMemory, FcSlot>;

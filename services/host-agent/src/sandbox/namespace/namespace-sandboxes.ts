import { ErrorCode, ENVD_PORT, isSandboxId, SandboxSpec, warmPoolKey, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ulid } from 'ulid';
import { CgroupManager, diskUsageBytes } from '../../cgroups';
import { NetworkManager, SandboxNetwork } from '../../networking';
import { EnvdSessionOpener } from '../../envd-client/envd-session';
import { initEnvdAccessToken, newEnvdAccessToken } from '../../envd-client/envd-token';
import { diskUsedBytes, imageAllocatedBytes, unmountDiskImage } from '../../rootfs/disk-image';
import { DiskOverlayRootfs, DiskOverlaySource, writeNameFiles } from '../../rootfs/disk-overlay.rootfs';
import { OverlayStore } from '../../rootfs/overlay.store';
import { DiskPool } from '../../rootfs/disk-pool';
import { SaveStore, SNAPSHOTS, SnapshotMeta, TEMPLATES, TemplateMeta } from '../../rootfs/saves.store';
import { RecoveryReport, RuntimeSandbox, SandboxEndpoint, SandboxMetrics, SandboxRuntime } from '../../runtime/sandbox-runtime';
import type { SandboxSystem } from '@wrenn/envd';
// Not through envd's index: that is also the in-guest bundle's, which must not load the native addon.
import { InitSystem } from '@wrenn/envd/dist/system/init/init-system';
import { EnvdHost } from '../../envd-host/envd-host';
import { snapshotRefFor } from '../../runtime/snapshot-ref';
import { isSameProcess, isSameProcessNow, signal, waitReaped } from '../../runtime/namespace/proc';
import { IdRanges } from '../../ids/id-ranges';
import { DEFAULT_ID_BASE, IDS_PER_SANDBOX, overlappingHostIds } from '../../runtime/namespace/sandbox-hardening';
import { initSocketPath, NamespaceBooted, NamespaceDriver, NamespaceRoot } from '../../runtime/namespace/namespace.driver';
import { requireSandboxId, requireTemplateId } from '@wrenn/contracts';
import { freezeParts, PAUSE_ORDER, save, SaveParts, SaveStepName, TEMPLATE_ORDER } from '../save';
import { start, StartResources, StartState, StartStepName, teardown } from '../lifecycle';
import { WarmPool } from '../warm/warm-pool';
import { WarmPlanConfig } from '../warm/warm-plan';
import { timeStep } from '../step-timings';
import { PendingHostname, prepareHostname } from '../../runtime/namespace/hostname-setter';

export interface NamespaceRuntimeOptions {
  /** Everything of this runtime lives under it: sandboxes/<id>/… */
  stateDir: string;
  /** Where base images are cached (built once): <imageDir>/base */
  imageDir: string;
  /** Directory of image recipes (images/ of the repo). */
  recipeDir?: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Per-sandbox networks (netns, veth, NAT) with a pool of pre-built slots. */
  network: NetworkManager;
  /** Per-sandbox cgroups (cpu, memory, pids, devices, freezer). */
  cgroups: CgroupManager;
  /** Most processes one sandbox may have (fork bombs stop here). */
  pidsMax?: number;
  /** Disk of a sandbox whose spec names none, in MiB (default 4096). */
  diskMb?: number;
  /** Blank disks of that size made ahead (rootfs/disk-pool.ts); 0 or absent: made at each create. */
  diskPoolSize?: number;
  /** First host id of the sandboxes' user-namespace ranges (65,536 ids a sandbox; default 2^30). */
  idBase?: number;
  /** Where the host's id ranges are recorded (shared by every agent of the machine). */
  idRangesDir?: string;
  /**
   * Sandboxes of the base template kept started ahead (envd up) whatever the demand, so a create
   * only has to give one its identity and limits. 0 turns the warm pool off, demand included.
   */
  warmPoolSize?: number;
  /**
   * Bounds and pace of the warm pool (per template, grown by recent demand; see
   * sandbox/warm/warm-plan.ts). Without it (or with max 0 and no warmPoolSize) there is none.
   */
  warmPool?: Omit<WarmPlanConfig, 'floor'>;
  /** Node binary and envd bundle dir bound read-only into every sandbox; envd then runs as its init's child. */
  envd?: { nodeBinary: string; bundleDir: string; healthTimeoutMs?: number };
  /**
   * envd served by the host agent for every sandbox (instead of `envd`): the way into a
   * sandbox (its init's socket), the socket the agent's own clients reach it on, and how long
   * an instance with nothing running stays built.
   */
  envdHost?: {
    /** The way into a sandbox (default: its init's socket, InitSystem). */
    system?: (sandbox: EnvdHostTarget) => SandboxSystem;
    /** Where the agent's own clients reach the host's envd (default: envd.sock in the state dir). */
    socketPath?: string;
    idleMs?: number;
  };
  /**
   * Called before each named step of pause, resume and template creation; a throw there fails
   * the operation at that step. Lets the host tests prove every rollback path on a real kernel.
   */
  checkpoint?: (step: LifecycleStep) => void | Promise<void>;
}

/** What the host's envd needs to reach into one sandbox. */
export interface EnvdHostTarget {
  sandboxId: string;
  /** The sandbox's directory (its init's socket is there). */
  dir: string;
  initPid: number;
}

/** Steps of the lifecycle operations, in order, as the checkpoint hook sees them. */
export type LifecycleStep = `start:${StartStepName}` | `pause:${SaveStepName}` | `template:${SaveStepName}`;

/** What a sandbox leaves on disk; its presence marks the sandbox complete. */
interface SandboxMeta {
  sandboxId: string;
  spec: SandboxSpec;
  /** Host pid of the sandbox's PID 1, and its start time (defeats pid reuse). */
  initPid: number;
  initStart: string;
  /** The `unshare` process that parents the init. */
  supervisorPid: number;
  createdAt: string;
  network: { index: number; hostIp: string; sandboxIp: string };
  imageDir: string;
  /** Where the sandbox's files are: sandboxes/<id>, or warm/<key> for one taken from the warm pool. */
  dir: string;
  /** The overlay's read-only layers, top first (template layers, then the base image). Absent = [imageDir]. */
  lower?: string[];
  /** Host ids of the sandbox's user namespace (range `number` of the host's): its root is hostRoot. */
  ids?: { number: number; hostRoot: number; count: number };
  /** The token envd demands on every request (absent for a sandbox started before envd had one). */
  envdAccessToken?: string;
  /**
   * Its init serves the host's envd (agent mode). Absent: a Node envd runs inside it (a sandbox
   * started before the host's envd, adopted by this agent), reached at its address as before.
   */
  initAgent?: boolean;
}

/** Shape every warm sandbox is started with; a claim rewrites the limits to the request's. */
const WARM_SPEC = { vcpus: 1, memoryMb: 512 } as const;

/** A started sandbox waiting in the pool, with what its claim needs made ahead. */
interface WarmSandbox {
  meta: SandboxMeta;
  hostname: PendingHostname;
}

/** The warm pool's key of a create: its frozen template, or its built-in image (the heartbeat counts by it too). */
const warmKey = warmPoolKey;

const META = 'meta.json';
/** A sandbox's disk when neither its spec nor the host's config names one. */
const DEFAULT_DISK_MB = 4096;
const REPO_IMAGES = resolve(__dirname, '../../../../../images');

/**
 * Sandboxes as Linux namespaces: a new mount, pid, uts, ipc and net namespace per sandbox, an
 * overlayfs root (shared read-only base image + own upper dir) that it pivot_roots into, and
 * tini as PID 1. The sandbox's processes do not belong to the agent: they survive an agent
 * restart and are re-adopted by recover().
 */
export class NamespaceRuntime implements SandboxRuntime {
  readonly kind = 'namespace' as const;
  private readonly sandboxes = new Map<string, SandboxMeta>();
  private readonly overlay = new OverlayStore();
  private prepared: Promise<void> | undefined;
  private readonly pool: WarmPool<WarmSandbox>;
  /** Paused sandboxes' files (snapshots) and templates' layers: one store, one instance per kind. */
  private readonly snapshots: SaveStore<SnapshotMeta>;
  private readonly templates: SaveStore<TemplateMeta>;
  /** Paused sandboxes: their snapshot's meta, by sandbox id. */
  private readonly paused = new Map<string, SnapshotMeta>();
  /** Creates and resumes in progress per template: a template in use must not be deleted under them. */
  private readonly templateStarts = new Map<string, number>();
  /** Templates held on this host, by id. */
  private readonly templateMetas = new Map<string, TemplateMeta>();

  private readonly idRanges: IdRanges;
  private readonly driver: NamespaceDriver;
  private readonly rootfs: DiskOverlayRootfs;
  private readonly diskPool: DiskPool | undefined;
  /** The host resources a start takes, for the lifecycle (sandbox/lifecycle.ts); `record` is per start. */
  private readonly lifecycle: Omit<NsResources, 'record'>;
  /** envd for every sandbox here, in this process (when configured so). */
  readonly envdHost: EnvdHost | undefined;
  private readonly systemOf: (sandbox: EnvdHostTarget) => SandboxSystem;

  constructor(private readonly options: NamespaceRuntimeOptions) {
    this.idRanges = new IdRanges(options.network.agentKey, options.idRangesDir, options.idBase ?? DEFAULT_ID_BASE);
    this.driver = new NamespaceDriver({ pidsMax: options.pidsMax, envd: options.envd, initAgent: !!options.envdHost });
    this.diskPool = options.diskPoolSize
      ? new DiskPool({ dir: join(options.stateDir, 'disk-pool'), sizeMb: options.diskMb ?? DEFAULT_DISK_MB, size: options.diskPoolSize, logger: options.logger })
      : undefined;
    this.rootfs = new DiskOverlayRootfs(this.diskPool);
    const network = options.network;
    this.lifecycle = {
      slots: {
        acquire: async () => ({ ...(await network.acquire()), nameservers: [] }),
        // Released only once the sandbox's processes are killed (lifecycle.ts): clean to reuse.
        release: (index) => network.release(index, { recycle: true }),
      },
      rootfs: this.rootfs,
      cgroups: options.cgroups,
      ids: this.idRanges,
      driver: this.driver,
      // The host's own envd needs no session: it is handed the token directly once the sandbox is recorded.
      envd: options.envd && !options.envdHost ? new EnvdSessionOpener({ timeoutMs: options.envd.healthTimeoutMs ?? 10_000 }) : undefined,
    };
    const host = options.envdHost;
    this.systemOf = host?.system ?? ((sandbox) => new InitSystem(initSocketPath(sandbox.dir)));
    this.envdHost = host
      ? new EnvdHost({
          idleMs: host.idleMs,
          socketPath: host.socketPath ?? join(options.stateDir, 'envd.sock'),
          // After an agent restart a sandbox's entry is rebuilt from its record.
          locate: async (id) => {
            const meta = await this.live(id);
            if (!meta.initAgent) throw new Error(`sandbox ${id} runs its own envd`);
            return { accessToken: meta.envdAccessToken, openSystem: () => this.systemOf(envdTarget(meta)) };
          },
        })
      : undefined;
    this.snapshots = new SaveStore(join(options.stateDir, 'snapshots'), SNAPSHOTS);
    this.templates = new SaveStore(join(options.stateDir, 'templates'), TEMPLATES);
    const floor = options.warmPoolSize ?? 0;
    this.pool = new WarmPool<WarmSandbox>({
      plan: {
        floor: floor > 0 ? { [warmKey({ template: 'base' })]: floor } : {},
        // Without bounds of its own, the pool keeps the base floor and nothing more.
        ...(options.warmPool ?? { perTemplateMax: floor, max: floor, demandPerMin: 0, startingMax: 1, startIntervalMs: 0 }),
        // A size of 0 turns the pool off, demand included.
        ...(floor === 0 ? { max: 0 } : {}),
      },
      start: (key) => this.startWarm(key),
      onReady: () => this.onWarmReady?.(),
      destroy: (warm) => this.destroyWarm(warm),
      logger: options.logger,
    });
  }

  private async checkpoint(step: LifecycleStep): Promise<void> {
    await this.options.checkpoint?.(step);
  }

  private get sandboxesDir(): string {
    return join(this.options.stateDir, 'sandboxes');
  }

  private sandboxDir(id: string): string {
    return join(this.sandboxesDir, id);
  }

  private get warmDir(): string {
    return join(this.options.stateDir, 'warm');
  }

  /** Images are stored per recipe version, so a new recipe never changes a running sandbox's lower dir. */
  private imagePath(template: string): string {
    return join(this.options.imageDir, `${template}-r${this.recipeVersion(template)}`);
  }

  private recipeVersion(template: string): number {
    try {
      const script = readFileSync(join(this.options.recipeDir ?? REPO_IMAGES, template, 'build.sh'), 'utf8');
      return Number(/^RECIPE_VERSION=(\d+)/m.exec(script)?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  prepare(): Promise<void> {
    this.prepared ??= this.buildBaseImage()
      .then(() => this.envdHost?.listen()).catch((error) => {
      this.prepared = undefined;
      throw error;
    });
    return this.prepared;
  }

  private async buildBaseImage(): Promise<void> {
    // Host users inside the sandboxes' id ranges would be the same kernel identity as a sandbox's.
    const idFiles = Object.fromEntries(['/etc/passwd', '/etc/group'].map((f) => [f, existsSync(f) ? readFileSync(f, 'utf8') : '']));
    const base = this.options.idBase ?? DEFAULT_ID_BASE;
    const clash = overlappingHostIds(idFiles, base, Math.floor((2 ** 32 - 1 - base) / IDS_PER_SANDBOX));
    if (clash.length) throw new Error(`host accounts use ids reserved for sandboxes (${clash.join(', ')}): set WRENN_SANDBOX_ID_BASE elsewhere`);
    // Traversable, not listable: a sandbox's start reaches its own dir (owned by its root) through these.
    for (const dir of [this.options.stateDir, this.sandboxesDir, this.warmDir]) {
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o711);
    }
    // Images hold setuid binaries as a distribution ships them: root's alone (sandboxes see them
    // through idmapped mounts the agent makes, never by path).
    await mkdir(this.options.imageDir, { recursive: true });
    await chmod(this.options.imageDir, 0o700);
    const image = this.imagePath('base');
    if (existsSync(join(image, 'etc/wrenn-image.json'))) return;
    const recipe = join(this.options.recipeDir ?? REPO_IMAGES, 'base/build.sh');
    this.options.logger?.info({ image }, 'building base image (first start only)');
    await mkdir(this.options.imageDir, { recursive: true });
    await new Promise<void>((done, fail) => {
      const child = spawn('bash', [recipe, image], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      child.on('error', fail);
      child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`base image build failed (${code}): ${err}`))));
    });
  }

  async create(spec: SandboxSpec): Promise<RuntimeSandbox> {
    this.requireNew(spec);
    const key = warmKey(spec);
    const warm = this.warmDisk(spec) ? this.pool.take(key) : (this.pool.noteDemand(key), undefined);
    if (warm) {
      try {
        return await this.claim(warm, spec);
      } catch (error) {
        this.options.logger?.warn({ err: error, sandboxId: spec.sandboxId }, 'warm sandbox could not be claimed; starting one cold');
        await this.destroyWarm(warm).catch(() => undefined);
      }
    }
    if (spec.templateId) return this.createFromTemplate(spec, spec.templateId);
    const meta = await this.build(spec, this.sandboxDir(spec.sandboxId), { lower: [this.imagePath(spec.template)] });
    this.sandboxes.set(spec.sandboxId, meta);
    return { sandboxId: spec.sandboxId, pid: meta.initPid, dir: meta.dir };
  }

  /**
   * A create served from the warm pool only: undefined, having done nothing, when no warm
   * sandbox of its template is ready (or it asks for another disk size than the pool's), so the
   * caller can start it cold through create() instead. A warm sandbox whose claim fails is
   * destroyed and the claim fails: nothing of it stays.
   */
  async claimWarm(spec: SandboxSpec): Promise<RuntimeSandbox | undefined> {
    this.requireNew(spec);
    if (!this.warmDisk(spec)) return undefined;
    const warm = this.pool.claim(warmKey(spec));
    if (!warm) return undefined;
    try {
      return await this.claim(warm, spec);
    } catch (error) {
      await this.destroyWarm(warm).catch((e: unknown) => this.options.logger?.warn({ err: e, sandboxId: spec.sandboxId }, 'warm sandbox whose claim failed not removed'));
      throw error;
    }
  }

  /** Called when a warm sandbox becomes ready (set by the agent: its heartbeat then beats soon). */
  onWarmReady: (() => void) | undefined;

  /** Ready warm sandboxes by pool key, for the heartbeat. */
  warmCounts(): Record<string, number> {
    return this.pool.readyByKey();
  }

  private requireNew(spec: SandboxSpec): void {
    requireSandboxId(spec.sandboxId);
    if (existsSync(this.sandboxDir(spec.sandboxId)) || this.paused.has(spec.sandboxId)) {
      throw new WrennError(ErrorCode.SandboxExists, `sandbox ${spec.sandboxId} already exists on this host`);
    }
  }

  /** Warm sandboxes have the default disk: a create that asks for another size starts cold. */
  private warmDisk(spec: SandboxSpec): boolean {
    return spec.diskMb === undefined || spec.diskMb === (this.options.diskMb ?? DEFAULT_DISK_MB);
  }

  /** A sandbox whose root is the template's layer over the layers the template was made on, and a fresh upper. */
  private async createFromTemplate(spec: SandboxSpec, templateId: string): Promise<RuntimeSandbox> {
    return this.usingTemplate(templateId, async () => {
      // The in-memory list, not the disk: a delete takes a template out of it before its files go.
      const template = this.templateMetas.get(templateId);
      if (!template) throw new WrennError(ErrorCode.TemplateNotFound, `template ${templateId} is not on this host`);
      const meta = await this.build({ ...spec, templateId }, this.sandboxDir(spec.sandboxId), { lower: [this.templates.files(template.templateId), ...template.lower] });
      this.sandboxes.set(spec.sandboxId, meta);
      return { sandboxId: spec.sandboxId, pid: meta.initPid, dir: meta.dir };
    });
  }

  /** Marks a template as being started from for the duration of `task` (deleteTemplate then refuses). */
  private async usingTemplate<T>(templateId: string | undefined, task: () => Promise<T>): Promise<T> {
    if (!templateId) return task();
    this.templateStarts.set(templateId, (this.templateStarts.get(templateId) ?? 0) + 1);
    try {
      return await task();
    } finally {
      const left = (this.templateStarts.get(templateId) ?? 1) - 1;
      if (left > 0) this.templateStarts.set(templateId, left);
      else this.templateStarts.delete(templateId);
    }
  }

  /**
   * Gives a warm sandbox its identity: cgroups renamed and limited as asked, hostname and
   * identity files, a new envd token, meta rewritten, and sandboxes/<id> pointing at its directory (renaming the
   * directory itself would break its overlay, which holds its path).
   */
  private async claim(pooled: WarmSandbox, spec: SandboxSpec): Promise<RuntimeSandbox> {
    const warm = pooled.meta;
    // Each step on the host's step series (phase `claim`), beside the cold start's steps.
    const step = <T>(name: string, work: () => Promise<T>) => timeStep('claim', name, work);
    if (!(await step('alive', async () => isSameProcessNow(warm.initPid, warm.initStart)))) throw new Error('the warm sandbox died');
    const id = spec.sandboxId;
    await step('cgroup rename', () => this.options.cgroups.rename(warm.sandboxId, id));
    try {
      // A new envd token for the sandbox's life: the one it had while pooled was held before
      // anyone owned it, and is never the one it runs with. The host's envd is handed it once
      // the meta is written (openEnvd); an envd inside takes it only with the old one.
      const envdAccessToken = await step('envd token', async () => {
        if (warm.initAgent) {
          await this.envdHost?.forget(warm.sandboxId);
          return newEnvdAccessToken();
        }
        if (this.options.envd && warm.envdAccessToken) {
          const token = newEnvdAccessToken();
          await initEnvdAccessToken(`http://${warm.network.sandboxIp}:${ENVD_PORT}`, token, warm.envdAccessToken, 5_000);
          return token;
        }
        return warm.envdAccessToken;
      });
      const meta: SandboxMeta = { ...warm, sandboxId: id, spec, createdAt: new Date().toISOString(), envdAccessToken };
      // Independent of one another: done side by side. What does not depend on the id was done at
      // warm-up: the hostname's process, resolv.conf and etc/ (written by the warm start). Only
      // the limits that differ from the warm sandbox's are written. The meta naming the sandbox
      // goes with them: until the link below, recover() treats the directory as an unclaimed
      // warm sandbox (removed), whatever its meta says.
      const pidsMax = this.options.pidsMax ?? 1024;
      await step('limits, hostname, name files, meta', () =>
        Promise.all([
          this.options.cgroups.update(id, { vcpus: spec.vcpus, memoryMb: spec.memoryMb, pidsMax }, { vcpus: warm.spec.vcpus, memoryMb: warm.spec.memoryMb, pidsMax }),
          pooled.hostname.set(id),
          writeNameFiles(this.overlay.layout(warm.dir).upper, id),
          (async () => {
            await writeFile(join(warm.dir, `${META}.tmp`), JSON.stringify(meta), { mode: 0o600 });
            await rename(join(warm.dir, `${META}.tmp`), join(warm.dir, META));
          })(),
        ]),
      );
      // Only after the meta names the sandbox: recover() adopts what the link leads to.
      await step('link', () => symlink(warm.dir, this.sandboxDir(id)));
      this.sandboxes.set(id, meta);
      this.openEnvd(meta);
      return { sandboxId: id, pid: meta.initPid, dir: meta.dir };
    } catch (error) {
      await this.options.cgroups.rename(id, warm.sandboxId).catch(() => undefined);
      throw error;
    }
  }

  /** Warm sandboxes started and not yet claimed (of one pool key, or all). */
  get warmReady(): number {
    return this.pool.readyCount();
  }

  /** Blank disks made ahead and not yet taken. */
  get disksReady(): number {
    return this.diskPool?.readyCount ?? 0;
  }

  warmReadyFor(spec: Pick<SandboxSpec, 'template' | 'templateId'>): number {
    return this.pool.readyCount(warmKey(spec));
  }

  /**
   * One warm sandbox for a pool key: a built-in image's, or a frozen template's (its layer over
   * the layers it was made on). Its hostname's process is made now, so a claim need not spawn.
   */
  private async startWarm(key: string): Promise<WarmSandbox> {
    const name = `sb_${ulid().toLowerCase()}`;
    const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    let lower: string[];
    let spec: SandboxSpec;
    if (kind === 'template') {
      const template = this.templateMetas.get(id);
      if (!template) throw new WrennError(ErrorCode.TemplateNotFound, `template ${id} is not on this host`);
      lower = [this.templates.files(template.templateId), ...template.lower];
      spec = { sandboxId: name, teamId: 'warm', template: 'base', templateId: id, ...WARM_SPEC };
    } else {
      lower = [this.imagePath(id)];
      spec = { sandboxId: name, teamId: 'warm', template: id, ...WARM_SPEC };
    }
    const meta = await this.build(spec, join(this.warmDir, name), { lower });
    return { meta, hostname: prepareHostname(meta.initPid) };
  }

  private async destroyWarm(warm: WarmSandbox): Promise<void> {
    warm.hostname.cancel();
    await this.envdHost?.forget(warm.meta.sandboxId);
    await this.teardown(warm.meta.sandboxId, warm.meta.dir, warm.meta);
  }

  /**
   * Builds a sandbox under `dir`, all or nothing (the lifecycle's start), and returns its
   * (written) meta. `lower` is the overlay's read-only stack (top first, base image last). With
   * `restoreDisk` (a resume) the sandbox's disk is that image, moved in — and moved back if the
   * start fails; else a new one.
   */
  private async build(spec: SandboxSpec, dir: string, options: { lower: string[]; restoreDisk?: string }): Promise<SandboxMeta> {
    const state: NsState = {
      spec,
      name: spec.sandboxId,
      dir,
      source: {
        lower: options.lower,
        restoreDisk: options.restoreDisk,
        diskMb: spec.diskMb ?? this.options.diskMb ?? DEFAULT_DISK_MB,
        // A resumed sandbox keeps its own hosts, hostname and resolv.conf (it may have changed them).
        identity: options.restoreDisk ? undefined : { resolvConf: this.options.network.resolvConf() },
      },
      envd: { token: newEnvdAccessToken() },
    };
    let meta: SandboxMeta | undefined;
    const record = async (s: NsState) => {
      const net = s.slot!;
      const booted = s.booted!;
      meta = {
        sandboxId: spec.sandboxId,
        spec,
        initPid: booted.initPid,
        initStart: booted.initStart,
        supervisorPid: booted.supervisorPid,
        createdAt: new Date().toISOString(),
        network: { index: net.index, hostIp: net.hostIp, sandboxIp: net.sandboxIp },
        imageDir: options.lower[options.lower.length - 1],
        dir,
        lower: options.lower,
        ids: s.ids,
        envdAccessToken: s.envd.token,
        initAgent: this.envdHost ? true : undefined,
      };
      // Written last and atomically: only a complete sandbox has a meta.json. It holds envd's
      // token: root's alone (so is the dir).
      await writeFile(join(dir, `${META}.tmp`), JSON.stringify(meta), { mode: 0o600 });
      await rename(join(dir, `${META}.tmp`), join(dir, META));
    };
    await start(state, { ...this.lifecycle, record }, { checkpoint: (step) => this.checkpoint(`start:${step}` as LifecycleStep) });
    this.openEnvd(meta!);
    return meta!;
  }

  /** The sandbox's address on its slot, and its envd: the host's own, or one listening at that address. */
  async endpoint(sandboxId: string): Promise<SandboxEndpoint> {
    const meta = await this.live(sandboxId);
    return { envdUrl: `http://${meta.network.sandboxIp}:${ENVD_PORT}`, accessToken: meta.envdAccessToken, envdHost: meta.initAgent ? this.envdHost : undefined };
  }

  /** The host's envd takes the sandbox's token directly: no health poll, no POST /init. */
  private openEnvd(meta: SandboxMeta): void {
    if (meta.initAgent) this.envdHost?.open(meta.sandboxId, { accessToken: meta.envdAccessToken, openSystem: () => this.systemOf(envdTarget(meta)) });
  }

  /** Destroys a sandbox, running or paused: processes, network, cgroups, files and snapshot. */
  async destroy(sandboxId: string): Promise<void> {
    requireSandboxId(sandboxId);
    const errors: Error[] = [];
    await this.destroyRunning(sandboxId).catch((error: Error) => errors.push(error));
    await this.snapshots
      .remove(sandboxId)
      .then(() => this.paused.delete(sandboxId))
      .catch((error: Error) => errors.push(new Error(`snapshot: ${error.message}`)));
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  /** Everything of a sandbox but its snapshot. */
  private async destroyRunning(sandboxId: string): Promise<void> {
    const link = this.sandboxDir(sandboxId);
    const meta = this.sandboxes.get(sandboxId) ?? (await this.readMeta(sandboxId));
    const dir = meta?.dir ?? (await realpath(link).catch(() => link));
    // Its processes, streams and watchers end here, before the sandbox under them goes.
    await this.envdHost?.forget(sandboxId);
    try {
      await this.teardown(sandboxId, dir, meta);
    } finally {
      this.sandboxes.delete(sandboxId);
      await rm(link, { force: true, recursive: true }).catch(() => undefined);
    }
  }

  /**
   * Kills, then releases id range, cgroups, rootfs, network and files: the unwinding of the
   * sandbox's start, rebuilt from its meta (every step tried, errors collected). Without a meta
   * (a half-made sandbox) its processes are found by its dir.
   */
  private async teardown(cgroupName: string, dir: string, meta: SandboxMeta | undefined, options: { cgroupEmptied?: boolean } = {}): Promise<void> {
    const layout = this.overlay.layout(dir);
    const state: NsState = {
      spec: meta?.spec ?? ({ sandboxId: cgroupName } as SandboxSpec),
      name: cgroupName,
      dir,
      source: { lower: [], diskMb: 0 },
      envd: { token: '' },
      dirCreated: true,
      slot: meta ? ({ ...meta.network, nameservers: [] } as unknown as NsSlot) : undefined,
      root: { lower: [], disk: layout.disk, upper: layout.upper, merged: layout.merged, stage: layout.stage, image: layout.image },
      ids: meta?.ids,
      booted: meta ? { initPid: meta.initPid, initStart: meta.initStart, supervisorPid: meta.supervisorPid } : undefined,
      cgroupEmptied: options.cgroupEmptied,
    };
    try {
      await teardown(state, { ...this.lifecycle, record: async () => undefined }).run();
    } catch (error) {
      const errors = (error as AggregateError).errors ?? [error];
      throw new AggregateError(errors, `destroy of ${cgroupName} incomplete: ${errors.map((e: Error) => e.message).join('; ')}`);
    }
  }

  async list(): Promise<string[]> {
    const ids: string[] = [];
    for (const [id, meta] of this.sandboxes) if (await isSameProcess(meta.initPid, meta.initStart)) ids.push(id);
    return ids.sort();
  }

  async resources(sandboxId: string): Promise<{ vcpus: number; memoryMb: number }> {
    const meta = this.sandboxes.get(sandboxId) ?? (await this.readMeta(sandboxId));
    if (!meta) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${sandboxId} is not on this host`);
    return { vcpus: meta.spec.vcpus, memoryMb: meta.spec.memoryMb };
  }

  async metrics(sandboxId: string): Promise<SandboxMetrics> {
    const meta = await this.live(sandboxId);
    const stats = await this.options.cgroups.stats(sandboxId);
    const diskBytes = await diskUsedBytes(this.overlay.layout(meta.dir).disk);
    return { ...stats, diskBytes, vcpus: meta.spec.vcpus, memoryMb: meta.spec.memoryMb };
  }

  /**
   * Stops background work (the slot pool); sandboxes keep running. With none left, the agent's
   * firewall chains and cgroup group go too, so a stopped agent leaves the host as it found it.
   */
  async shutdown(): Promise<void> {
    await this.pool.stop();
    await this.diskPool?.stop();
    await this.envdHost?.close();
    const empty = (await this.list()).length === 0;
    await this.options.network.stop({ removeHostRules: empty });
    if (empty) await this.options.cgroups.removeGroup();
  }

  /**
   * Pause, in the lifecycle's order (sandbox/save.ts): freeze (the stop-the-world point) →
   * snapshot memory (none is kept: the snapshot begins with its record only) → snapshot disk
   * (every process killed where it stood, the disk unmounted and moved into the snapshot: a
   * rename, no copy) → record (the snapshot complete) → release (slot, cgroups, sandbox dir).
   *
   * Before the kill, any failure thaws the sandbox and it carries on as if nothing happened.
   * From the kill on, the user's files are only ever moved: a failure leaves them in the sandbox
   * dir or in the partial snapshot, and a retried pause (or the next agent start) completes the
   * snapshot from wherever they are. Running processes do not survive a pause; files do.
   */
  async pause(sandboxId: string): Promise<{ snapshotRef: string; sizeBytes: number }> {
    requireSandboxId(sandboxId);
    const done = this.paused.get(sandboxId);
    if (done) {
      // A retry: the snapshot is made; release whatever an earlier attempt could not.
      if (existsSync(this.sandboxDir(sandboxId))) await this.releaseAfterPause(sandboxId, this.sandboxes.get(sandboxId) ?? (await this.readMeta(sandboxId)));
      return { snapshotRef: done.snapshotRef, sizeBytes: done.sizeBytes };
    }
    const meta = this.sandboxes.get(sandboxId) ?? (await this.readMeta(sandboxId));
    if (meta && !(await isSameProcess(meta.initPid, meta.initStart)) && existsSync(this.snapshots.partialDir(sandboxId))) {
      // An earlier attempt got past its kill: finish it.
      return this.savePause(sandboxId, meta, 'snapshot disk');
    }
    const live = await this.live(sandboxId);
    // Running processes do not survive a pause: neither does what envd held of them.
    await this.envdHost?.forget(sandboxId);
    return this.savePause(sandboxId, live);
  }

  /** The pause's steps (from `from` on: the completion of one cut short after its kill). */
  private async savePause(sandboxId: string, meta: SandboxMeta, from?: SaveStepName): Promise<{ snapshotRef: string; sizeBytes: number }> {
    const cgroups = this.options.cgroups;
    let snapshot: SnapshotMeta | undefined;
    await save(
      PAUSE_ORDER,
      {
        ...this.freezerParts(meta),
        'snapshot memory': {
          run: () =>
            this.snapshots.begin(sandboxId, {
              sandboxId,
              snapshotRef: snapshotRefFor(sandboxId),
              spec: meta.spec,
              lower: meta.lower ?? [meta.imageDir],
              templateId: meta.spec.templateId,
              sizeBytes: 0,
              pausedAt: new Date().toISOString(),
            }),
          undo: () => this.snapshots.abort(sandboxId),
        },
        'snapshot disk': {
          final: true,
          run: async () => {
            // Frozen processes take the SIGKILL with them when thawed, before running another
            // instruction. The supervisor (unshare, outside the pid namespace) is spared: it
            // reaps the init and exits.
            await cgroups.killAll(sandboxId, [meta.supervisorPid]);
            // A retry may find the cgroup already gone with the processes: nothing left to thaw.
            await cgroups.thaw(sandboxId).catch((error: NodeJS.ErrnoException) => {
              if (error.code !== 'ENOENT') throw error;
            });
            if (!(await waitReaped(meta.initPid, meta.initStart, 5000))) throw new Error(`pid ${meta.initPid} of ${sandboxId} survived SIGKILL`);
            if (this.snapshots.hasPartialFiles(sandboxId)) return;
            await this.unmountDisk(meta.dir);
            await this.snapshots.takeFiles(sandboxId, this.overlay.layout(meta.dir).image);
          },
        },
        record: {
          run: async () => {
            snapshot = await this.snapshots.commit(sandboxId, undefined, imageAllocatedBytes);
            this.paused.set(sandboxId, snapshot);
          },
        },
        release: { run: () => this.releaseAfterPause(sandboxId, meta) },
      },
      { checkpoint: (step) => this.checkpoint(`pause:${step}`), from },
    );
    return { snapshotRef: snapshot!.snapshotRef, sizeBytes: snapshot!.sizeBytes };
  }

  /** Freeze and thaw of a save (the driver has none of its own: the cgroup freezer). */
  private freezerParts(meta: SandboxMeta): Pick<SaveParts, 'freeze' | 'thaw'> {
    const booted = { initPid: meta.initPid, initStart: meta.initStart, supervisorPid: meta.supervisorPid };
    return freezeParts(this.driver, booted, this.options.cgroups, meta.sandboxId);
  }

  /** Network slot, cgroups, mounts and the sandbox dir of a sandbox whose snapshot is complete. */
  private async releaseAfterPause(sandboxId: string, meta: SandboxMeta | undefined): Promise<void> {
    const link = this.sandboxDir(sandboxId);
    const dir = meta?.dir ?? (await realpath(link).catch(() => link));
    // The files belong in the snapshot; if they are still here, they go there before the dir goes.
    const { image } = this.overlay.layout(dir);
    if (existsSync(image)) {
      await this.unmountDisk(dir);
      await this.snapshots.restoreFiles(sandboxId, image);
    }
    this.sandboxes.delete(sandboxId);
    // The pause killed every process of its cgroup (and a retry finds them gone the same way).
    await this.teardown(sandboxId, dir, meta, { cgroupEmptied: true });
    // Only once everything is released: a retry finds the link and the meta to finish with.
    await rm(link, { force: true, recursive: true });
  }

  /**
   * Resume: a sandbox built like a new one (pooled network slot, fresh cgroups, same id and
   * hostname) whose overlay upper is the snapshot's, over the same read-only stack it was paused
   * with. On failure the files go back into the snapshot, which stays as it was.
   */
  async resume(spec: SandboxSpec, snapshotRef: string): Promise<RuntimeSandbox> {
    requireSandboxId(spec.sandboxId);
    const id = spec.sandboxId;
    if (snapshotRef !== snapshotRefFor(id)) throw new WrennError(ErrorCode.ValidationFailed, `"${snapshotRef}" is not the snapshot of ${id}`);
    const running = this.sandboxes.get(id);
    if (running && (await isSameProcess(running.initPid, running.initStart))) return { sandboxId: id, pid: running.initPid, dir: running.dir };
    // A pause that was cut short after its kill is completed first: its files are what resumes.
    if (!this.paused.has(id) && existsSync(this.snapshots.partialDir(id))) await this.pause(id);
    const snapshot = this.paused.get(id);
    if (!snapshot) throw new WrennError(ErrorCode.SandboxNotFound, `snapshot ${snapshotRef} is not on this host`);
    if (existsSync(this.sandboxDir(id))) await this.releaseAfterPause(id, await this.readMeta(id));
    return this.usingTemplate(snapshot.templateId, async () => {
      const meta = await this.build({ ...spec, templateId: snapshot.templateId }, this.sandboxDir(id), {
        lower: snapshot.lower,
        restoreDisk: this.snapshots.files(id),
      });
      this.sandboxes.set(id, meta);
      this.paused.delete(id);
      // What is left of the snapshot is its meta; recover() also recognises it as spent.
      await this.snapshots.remove(id).catch((error) => this.options.logger?.warn({ err: error, sandboxId: id }, 'spent snapshot not removed'));
      return { sandboxId: id, pid: meta.initPid, dir: meta.dir };
    });
  }

  /**
   * Complete snapshots, and pauses cut short after their kill: those hold the user's files (in
   * the partial snapshot or the sandbox dir) for a retried pause to complete. Listed as paused
   * rather than not at all, which the reconciler would read as a crash and destroy them with
   * their files. A partial whose sandbox still runs is a pause before its kill: listed running.
   */
  async listPaused(): Promise<string[]> {
    const ids = new Set(this.paused.keys());
    for (const id of (await this.snapshots.scan()).partial) {
      const meta = this.sandboxes.get(id);
      if (meta && (await isSameProcess(meta.initPid, meta.initStart))) continue;
      ids.add(id);
    }
    return [...ids].sort();
  }

  /**
   * Freezes the sandbox, copies its upper dir as the template's layer, thaws it. The template's
   * read-only stack is that layer over the sandbox's own lower layers, so a template made from
   * a template-derived sandbox keeps its parent's files.
   */
  async createTemplate(sandboxId: string, templateId: string, name?: string): Promise<{ sizeBytes: number }> {
    requireSandboxId(sandboxId);
    requireTemplateId(templateId);
    const existing = this.templateMetas.get(templateId) ?? (await this.templates.read(templateId));
    if (existing) {
      if (existing.sourceSandboxId === sandboxId) return { sizeBytes: existing.sizeBytes }; // a retry
      throw new WrennError(ErrorCode.TemplateExists, `template ${templateId} already exists on this host`);
    }
    if (this.paused.has(sandboxId)) throw new WrennError(ErrorCode.InvalidState, `sandbox ${sandboxId} is paused; templates are made from running sandboxes`);
    const meta = await this.live(sandboxId);
    const template: TemplateMeta = {
      templateId,
      name,
      lower: meta.lower ?? [meta.imageDir],
      baseImage: meta.imageDir,
      sourceSandboxId: sandboxId,
      sizeBytes: 0,
      createdAt: new Date().toISOString(),
    };
    let saved: TemplateMeta | undefined;
    await save(
      TEMPLATE_ORDER,
      {
        ...this.freezerParts(meta),
        // A template keeps no memory: sandboxes from it start their programs afresh.
        'snapshot memory': { run: async () => undefined },
        'snapshot disk': {
          run: async () => {
            await this.templates.begin(templateId, template);
            await this.templates.copyFiles(templateId, this.overlay.layout(meta.dir).upper);
          },
          undo: () => this.templates.abort(templateId),
        },
        record: {
          run: async () => {
            saved = await this.templates.commit(templateId, undefined, diskUsageBytes);
            this.templateMetas.set(templateId, saved);
          },
        },
      },
      { checkpoint: (step) => this.checkpoint(`template:${step}`) },
    );
    return { sizeBytes: saved!.sizeBytes };
  }

  /** Removes a template's files unless a running or paused sandbox (or another template) stands on them. */
  async deleteTemplate(templateId: string): Promise<void> {
    requireTemplateId(templateId);
    const layer = this.templates.files(templateId);
    const sandboxes = [...this.sandboxes.values()].filter((m) => m.lower?.includes(layer)).map((m) => m.sandboxId);
    const paused = [...this.paused.values()].filter((m) => m.lower.includes(layer)).map((m) => m.sandboxId);
    const templates = [...this.templateMetas.values()].filter((t) => t.lower.includes(layer)).map((t) => t.templateId);
    const starting = this.templateStarts.get(templateId) ?? 0;
    if (sandboxes.length + paused.length + templates.length + starting > 0) {
      throw new WrennError(ErrorCode.TemplateInUse, `template ${templateId} is in use on this host`, { sandboxes, paused, templates, starting });
    }
    this.templateMetas.delete(templateId);
    // Warm sandboxes of the template stand on its layer: they go first.
    await this.pool.drop(warmKey({ template: 'base', templateId }));
    await this.templates.remove(templateId);
  }

  async recover(): Promise<RecoveryReport> {
    await mkdir(this.sandboxesDir, { recursive: true });
    // Adopted sandboxes are served at once (prepare listens too; this is the same socket, once).
    await this.envdHost?.listen();
    const report: RecoveryReport = { adopted: [], removed: [] };
    const dead: string[] = [];
    for (const name of (await readdir(this.sandboxesDir)).sort()) {
      if (!isSandboxId(name)) continue; // not ours: never delete what we did not name
      const meta = await this.readMeta(name);
      if (meta) meta.dir ??= this.sandboxDir(name);
      if (meta?.network && (await isSameProcess(meta.initPid, meta.initStart))) {
        this.sandboxes.set(name, meta);
        report.adopted.push(name);
      } else {
        dead.push(name);
      }
    }
    // Warm sandboxes nobody claimed are not worth keeping across a restart: new ones start.
    const claimed = new Set([...this.sandboxes.values()].map((m) => m.dir));
    for (const key of await readdir(this.warmDir).catch(() => [] as string[])) {
      const dir = join(this.warmDir, key);
      if (claimed.has(dir) || !isSandboxId(key)) continue;
      const meta = await readFile(join(dir, META), 'utf8').then((t) => JSON.parse(t) as SandboxMeta, () => undefined);
      // Its slot must still be known to the network manager to be released: do it first.
      if (meta && (await isSameProcess(meta.initPid, meta.initStart))) signal(meta.initPid, 'SIGKILL');
      await this.teardown(key, dir, undefined).catch(() => undefined);
      report.removed.push(key);
    }
    // Templates and snapshots before the dead are removed: a dead sandbox's dir may hold the
    // files of a pause or a resume that was cut short, and those are put back in their snapshot.
    const templates = await this.templates.recoverCopies();
    for (const t of templates.saves) this.templateMetas.set(t.templateId, t);
    if (templates.removed.length) this.options.logger?.warn({ removed: templates.removed }, 'removed half-made templates');
    for (const id of await this.recoverSnapshots()) {
      // Paused now: what is left of it goes with the dead (its slot once the network is recovered).
      report.adopted = report.adopted.filter((a) => a !== id);
      dead.push(id);
    }
    // An agent that died during a template copy may have left a sandbox frozen.
    for (const id of report.adopted) await this.options.cgroups.thaw(id).catch(() => undefined);
    report.paused = [...this.paused.keys()].sort();
    report.templates = [...this.templateMetas.keys()].sort();
    // Networks and cgroups of the living are kept; everything else of this agent goes.
    await this.options.network.recover(report.adopted.map((id) => this.sandboxes.get(id)!.network.index));
    for (const name of dead) {
      // A pause cut short whose files could not be moved to its snapshot: they stay where they are.
      if (existsSync(this.snapshots.partialDir(name)) && !this.snapshots.hasPartialFiles(name) && existsSync(this.overlay.layout(this.sandboxDir(name)).image)) continue;
      try {
        await this.destroyRunning(name);
      } catch (error) {
        this.options.logger?.warn({ sandboxId: name, err: error }, 'could not remove leftover sandbox');
      }
      // A paused one is not removed: its snapshot stays (it is in report.paused), complete or
      // holding the files of a pause that could not be completed.
      if (!this.paused.has(name) && !this.snapshots.hasPartialFiles(name)) report.removed.push(name);
    }
    for (const id of await this.options.cgroups.list()) {
      if (!this.sandboxes.has(id)) await this.options.cgroups.remove(id).catch(() => undefined);
    }
    // Id ranges of this agent's dead sandboxes (a crash skipped their teardown) are free again.
    await this.idRanges.releaseAllBut([...this.sandboxes.values()].flatMap((m) => (m.ids ? [m.ids.number] : [])));
    // Only now, with leftovers gone, start pre-building slots and warm sandboxes.
    await this.options.network.start();
    await this.diskPool?.start();
    this.pool.start();
    return report;
  }

  /**
   * Snapshots after a restart. Complete ones are adopted; a partial one that holds the files (its
   * sandbox was killed) is completed. A partial one whose sandbox is alive: if the sandbox is
   * still frozen the pause had reached its stop-the-world point (and maybe its kill, which the
   * thaw would carry out), so it is completed — the files are never left in a sandbox that may
   * be dying; if thawed, the pause was being undone, and the partial goes. A complete one whose
   * files a resume had moved gets them back from the half-started sandbox, or is dropped as spent
   * when that resume finished. Answers the sandboxes it paused (their processes are gone).
   */
  private async recoverSnapshots(): Promise<string[]> {
    const pausedNow: string[] = [];
    const { complete, partial, deleting } = await this.snapshots.scan();
    for (const id of deleting) await this.snapshots.finishRemoval(id);
    // A dead sandbox's disk image, unmounted (a mount outlives the agent, not the sandbox's use of it).
    const deadDisk = async (id: string) => {
      const meta = await this.readMeta(id);
      const dir = meta?.dir ?? (await realpath(this.sandboxDir(id)).catch(() => this.sandboxDir(id)));
      const { image } = this.overlay.layout(dir);
      if (!existsSync(image)) return undefined;
      await this.unmountDisk(dir);
      return image;
    };
    for (const id of partial) {
      try {
        const live = this.sandboxes.get(id);
        if (live && !this.snapshots.hasPartialFiles(id)) {
          if (!(await this.options.cgroups.isFrozen(id))) {
            await this.snapshots.abort(id);
            continue;
          }
          await this.options.cgroups.killAll(id, [live.supervisorPid]);
          await this.options.cgroups.thaw(id);
          if (!(await waitReaped(live.initPid, live.initStart, 5000))) throw new Error(`pid ${live.initPid} survived SIGKILL`);
          await this.unmountDisk(live.dir);
          this.paused.set(id, await this.snapshots.commit(id, this.overlay.layout(live.dir).image, imageAllocatedBytes));
          this.sandboxes.delete(id);
          pausedNow.push(id);
          continue;
        }
        const disk = this.snapshots.hasPartialFiles(id) ? undefined : await deadDisk(id);
        if (!disk && !this.snapshots.hasPartialFiles(id)) {
          await this.snapshots.abort(id);
          continue;
        }
        this.paused.set(id, await this.snapshots.commit(id, disk, imageAllocatedBytes));
      } catch (error) {
        // Never delete what may be the only copy of someone's files: left for an operator. A dead
        // sandbox's dir is removed below, so files still in it move into the partial snapshot
        // first (a rename); if even that fails, the dir is kept (see recover()).
        this.options.logger?.error({ err: error, sandboxId: id }, 'could not complete an interrupted pause');
        const disk = this.sandboxes.has(id) || this.snapshots.hasPartialFiles(id) ? undefined : await deadDisk(id).catch(() => undefined);
        if (disk) {
          await rename(disk, join(this.snapshots.partialDir(id), 'disk.img')).catch((e) =>
            this.options.logger?.error({ err: e, sandboxId: id }, 'the files of an interrupted pause stay in its sandbox dir'),
          );
        }
      }
    }
    for (const id of complete) {
      const meta = await this.snapshots.read(id);
      if (!meta) continue;
      if (!existsSync(this.snapshots.files(id))) {
        if (this.sandboxes.has(id)) {
          await this.snapshots.remove(id).catch(() => undefined); // its resume finished
          continue;
        }
        const disk = await deadDisk(id);
        if (!disk) {
          this.options.logger?.error({ sandboxId: id }, 'snapshot without files dropped');
          await this.snapshots.remove(id).catch(() => undefined);
          continue;
        }
        await this.snapshots.restoreFiles(id, disk);
      }
      if (this.sandboxes.has(id)) {
        this.options.logger?.warn({ sandboxId: id }, 'a running sandbox also has a snapshot; the snapshot is kept aside');
        continue;
      }
      this.paused.set(id, meta);
    }
    return pausedNow;
  }

  private async readMeta(sandboxId: string): Promise<SandboxMeta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.sandboxDir(sandboxId), META), 'utf8')) as SandboxMeta;
    } catch {
      return undefined;
    }
  }

  private async live(sandboxId: string): Promise<SandboxMeta> {
    requireSandboxId(sandboxId);
    const meta = this.sandboxes.get(sandboxId);
    if (!meta || !(await isSameProcess(meta.initPid, meta.initStart))) {
      throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${sandboxId} is not running on this host`);
    }
    return meta;
  }

  /**
   * Unmounts a sandbox's disk once its processes are gone. Their mount namespace lets go of it
   * as the last of them exits, which may trail the exit a little: busy is retried briefly.
   */
  private async unmountDisk(dir: string): Promise<void> {
    const { disk } = this.overlay.layout(dir);
    for (let attempt = 0; ; attempt++) {
      try {
        return await unmountDiskImage(disk);
      } catch (error) {
        if (attempt >= 50 || !/busy/i.test(String((error as { stderr?: string }).stderr ?? error))) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

function envdTarget(meta: SandboxMeta): EnvdHostTarget {
  return { sandboxId: meta.sandboxId, dir: meta.dir, initPid: meta.initPid };
}

type NsSlot = SandboxNetwork & { nameservers: string[] };
type NsRoot = NamespaceRoot & { image: string };
type NsState = StartState<DiskOverlaySource, NsRoot, NamespaceBooted, never, NsSlot>;
type NsResources = StartResources<DiskOverlaySource, NsRoot, NamespaceBooted, never, NsSlot>;

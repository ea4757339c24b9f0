import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { CleanupStack } from '../cleanup/cleanup-stack';
import { BpfDeviceFilter } from './bpf-device-filter';
import type { DeviceFilter } from './device-filter';
import { CgroupVersion, detectCgroupVersion } from './cgroup-version';

export interface CgroupLimits {
  vcpus: number;
  memoryMb: number;
  pidsMax: number;
  /** Device rules ("c 10:232 rwm") allowed beyond the standard nodes (a VMM's KVM, TAP, drive). v1 only. */
  allowDevices?: string[];
}

export interface CgroupStats {
  cpuUsageUsec: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
  oomKills: number;
}

export interface SandboxCgroup {
  /** Every cgroup.procs a process must be written to before it forks, to be inside all controllers. */
  procsFiles: string[];
  /**
   * cgroup.procs files of the sandbox's "user" groups (v1: memory and pids; v2: the one user
   * leaf), where envd puts the commands it starts. The sandbox's memory and pids limits apply
   * there; envd sits beside them with a small reserve, so neither a fork bomb nor a memory hog
   * inside can take envd down (the OOM killer and the pids limit only ever meet the user's
   * processes).
   */
  userProcsFiles: string[];
}

export type { DeviceFilter };

export interface CgroupManagerOptions {
  /** Parent group of this agent's sandboxes, e.g. "wrenn-ab12c". */
  group: string;
  version?: CgroupVersion;
  root?: string;
  /**
   * v2 only: the device allowlist. Defaults to the BPF program of the native addon
   * (BpfDeviceFilter); null means none, and then a v2 host refuses to make sandbox cgroups.
   */
  deviceFilter?: DeviceFilter | null;
}

/** Why a host's cgroups cannot hold a sandbox safely (code not_implemented, details.reason says which). */
export class CgroupUnsupportedError extends WrennError {
  constructor(message: string, details: { reason: 'no_device_filter' | 'missing_controllers'; missing?: string[]; cause?: string }) {
    super(ErrorCode.NotImplemented, message, details);
    this.name = 'CgroupUnsupportedError';
  }
}

const CPU_PERIOD_US = 100_000;

/**
 * CPU is shared by weight in proportion to a sandbox's vCPUs (the kernel's default weight is one
 * vCPU's): idle sandboxes cost nothing, busy ones split the cores by what they asked for, and the
 * vCPU quota stays a ceiling. Placement therefore never counts vCPUs against cores.
 */
export function cpuWeightV2(vcpus: number): number {
  return Math.min(10_000, Math.max(1, Math.round(100 * vcpus)));
}
/** v1's cpu.shares: 1024 per vCPU, within the kernel's 2..262144. */
export function cpuSharesV1(vcpus: number): number {
  return Math.min(262_144, Math.max(2, Math.round(1024 * vcpus)));
}
/** Devices a sandbox may open (type major:minor): the null/zero/random family, tty and ptys. */
export const ALLOWED_DEVICES: readonly string[] = ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm'];
/** Tasks and memory envd keeps for itself above the sandbox's limits (its threads, its heap). */
const ENVD_PIDS_RESERVE = 64;
const ENVD_MEMORY_RESERVE_MB = 128;
const USER_GROUP = 'user';
/** v2 forbids processes in a group whose controllers are delegated to children: envd gets a leaf of its own. */
const ENVD_GROUP = 'envd';
const V2_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer', 'devices'] as const;
type V1Controller = (typeof V1_CONTROLLERS)[number];

/**
 * Per-sandbox cgroups: CPU weight and quota from vcpus, a memory limit (the OOM killer then picks inside the
 * sandbox, never the agent), a pids limit, a device allowlist and a freezer for
 * stop-the-world. cgroup v1 is what this kernel mounts. On a unified (v2) host the same layout is
 * sandbox/{envd,user}, and the device allowlist is a BPF program (`deviceFilter`, by default the
 * native addon's): where none can be attached, or without the cpu, memory and pids controllers, v2
 * refuses rather than run a sandbox unfenced.
 */
export class CgroupManager {
  readonly version: CgroupVersion;
  private readonly root: string;
  private readonly group: string;

  private readonly deviceFilter: DeviceFilter | undefined;

  constructor(options: CgroupManagerOptions) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.group)) throw new Error(`bad cgroup group name "${options.group}"`);
    this.group = options.group;
    this.root = options.root ?? '/sys/fs/cgroup';
    this.version = options.version ?? detectCgroupVersion(undefined, this.root);
    this.deviceFilter = options.deviceFilter === undefined ? (this.version === 'v2' ? new BpfDeviceFilter() : undefined) : (options.deviceFilter ?? undefined);
  }

  /** v2: the sandbox's group, its envd leaf and its user leaf. */
  private v2(sandboxId: string): { sandbox: string; envd: string; user: string } {
    const sandbox = join(this.root, this.group, sandboxId);
    return { sandbox, envd: join(sandbox, ENVD_GROUP), user: join(sandbox, USER_GROUP) };
  }

  /** Throws CgroupUnsupportedError where a v2 sandbox would run without limits or a device policy. */
  private async assertV2Usable(): Promise<void> {
    if (!this.deviceFilter) {
      throw new CgroupUnsupportedError(
        `cgroup v2 at ${this.root}: no device filter (BPF_CGROUP_DEVICE) is configured, and a sandbox may not run without a device allowlist`,
        { reason: 'no_device_filter' },
      );
    }
    const available = (await readFile(join(this.root, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
    const missing = V2_CONTROLLERS.filter((c) => !available.includes(c));
    if (missing.length) {
      throw new CgroupUnsupportedError(`cgroup v2 at ${this.root} lacks the ${missing.join(', ')} controller(s) (bound to a v1 hierarchy?)`, {
        reason: 'missing_controllers',
        missing,
      });
    }
  }

  /** v1: one directory per controller (co-mounted controllers share one); v2: a single one. */
  private dirs(sandboxId: string): Map<string, string> {
    const out = new Map<string, string>();
    if (this.version === 'v2') {
      out.set('unified', join(this.root, this.group, sandboxId));
      return out;
    }
    const seen = new Set<string>();
    for (const controller of V1_CONTROLLERS) {
      const mount = join(this.root, controller);
      if (!existsSync(mount)) continue;
      const real = realpathSync(mount);
      if (seen.has(real)) continue;
      seen.add(real);
      out.set(controller, join(real, this.group, sandboxId));
    }
    return out;
  }

  private v1(sandboxId: string, controller: V1Controller): string | undefined {
    const mount = join(this.root, controller);
    return existsSync(mount) ? join(realpathSync(mount), this.group, sandboxId) : undefined;
  }

  async create(sandboxId: string, limits: CgroupLimits): Promise<SandboxCgroup> {
    if (this.version === 'v2') return this.createV2(sandboxId, limits);
    const cleanup = new CleanupStack();
    try {
      // Controllers are independent hierarchies: made side by side.
      await Promise.all(
        [...this.dirs(sandboxId).values()].map(async (dir) => {
          await mkdir(dir, { recursive: true });
          cleanup.push(`cgroup ${dir}`, () => rmdir(dir).catch(ignoreGone));
        }),
      );
      const userProcsFiles = await this.limitV1(sandboxId, limits, cleanup);
      return { procsFiles: [...this.dirs(sandboxId).values()].map((d) => join(d, 'cgroup.procs')), userProcsFiles };
    } catch (error) {
      return cleanup.rollback(error);
    }
  }

  private async createV2(sandboxId: string, limits: CgroupLimits): Promise<SandboxCgroup> {
    await this.assertV2Usable();
    const dirs = this.v2(sandboxId);
    const cleanup = new CleanupStack();
    try {
      await this.enableV2Controllers();
      await mkdir(dirs.sandbox);
      cleanup.push(`cgroup ${dirs.sandbox}`, () => rmdir(dirs.sandbox).catch(ignoreGone));
      await writeFile(join(dirs.sandbox, 'cgroup.subtree_control'), V2_CONTROLLERS.map((c) => `+${c}`).join(' '));
      for (const leaf of [dirs.envd, dirs.user]) {
        await mkdir(leaf);
        cleanup.push(`cgroup ${leaf}`, () => rmdir(leaf).catch(ignoreGone));
      }
      await this.limitV2(sandboxId, limits);
      // On the sandbox's group, so envd and the user's commands are both held to the allowlist;
      // before create returns, so no process of the sandbox ever runs without it.
      await this.deviceFilter!.attach(dirs.sandbox, ALLOWED_DEVICES).catch((error: Error) => {
        throw new CgroupUnsupportedError(`cgroup v2 at ${this.root}: the device filter could not be attached to ${dirs.sandbox}: ${error.message}`, {
          reason: 'no_device_filter',
          cause: (error as NodeJS.ErrnoException).code ?? error.message,
        });
      });
      return { procsFiles: [join(dirs.envd, 'cgroup.procs')], userProcsFiles: [join(dirs.user, 'cgroup.procs')] };
    } catch (error) {
      return cleanup.rollback(error);
    }
  }

  private async limitV1(id: string, limits: CgroupLimits, cleanup: CleanupStack): Promise<string[]> {
    const userGroup = async (parent: string) => {
      const dir = join(parent, USER_GROUP);
      await mkdir(dir);
      cleanup.push(`user group ${dir}`, () => rmdir(dir).catch(ignoreGone));
      return dir;
    };
    const cpu = this.v1(id, 'cpu');
    const devices = this.v1(id, 'devices');
    const memory = this.v1(id, 'memory');
    const pids = this.v1(id, 'pids');
    // Each controller's files in order, the controllers side by side (every start waits on this).
    await Promise.all([
      cpu &&
        (async () => {
          await writeFile(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
          await writeFile(join(cpu, 'cpu.cfs_quota_us'), String(limits.vcpus * CPU_PERIOD_US));
          await writeFile(join(cpu, 'cpu.shares'), String(cpuSharesV1(limits.vcpus)));
        })(),
      devices &&
        (async () => {
          await writeFile(join(devices, 'devices.deny'), 'a');
          for (const rule of [...ALLOWED_DEVICES, ...(limits.allowDevices ?? [])]) await writeFile(join(devices, 'devices.allow'), rule);
        })(),
      memory &&
        (async () => {
          const user = await userGroup(memory);
          const limit = limits.memoryMb * 1024 * 1024;
          await this.writeMemoryLimit(memory, limit + ENVD_MEMORY_RESERVE_MB * 1024 * 1024);
          await this.writeMemoryLimit(user, limit);
        })(),
      pids &&
        (async () => {
          const user = await userGroup(pids);
          await writeFile(join(pids, 'pids.max'), String(limits.pidsMax + ENVD_PIDS_RESERVE));
          await writeFile(join(user, 'pids.max'), String(limits.pidsMax));
        })(),
    ]);
    // Memory's, then pids': a stable order (the start binds them as 1.procs, 2.procs).
    return [memory, pids].filter((d): d is string => !!d).map((d) => join(d, USER_GROUP, 'cgroup.procs'));
  }

  private async writeMemoryLimit(dir: string, bytes: number, known?: number): Promise<void> {
    const memsw = join(dir, 'memory.memsw.limit_in_bytes');
    // Swap would let a sandbox outgrow its limit on hosts that have it. The kernel wants
    // limit ≤ memsw at every moment: raise memsw first, lower it last. `known`: the limit the
    // caller set before (a warm sandbox's), which spares reading it back.
    const current = known ?? Number((await readFile(join(dir, 'memory.limit_in_bytes'), 'utf8').catch(() => '0')).trim());
    const hasMemsw = existsSync(memsw);
    if (hasMemsw && bytes > current) await writeFile(memsw, String(bytes));
    await writeFile(join(dir, 'memory.limit_in_bytes'), String(bytes));
    if (hasMemsw && bytes <= current) await writeFile(memsw, String(bytes));
  }

  /** Gives a sandbox's cgroups another name (a pre-started sandbox taking on its real id). */
  async rename(from: string, to: string): Promise<void> {
    // One directory per v1 controller, independent of one another: renamed side by side.
    await Promise.all([...this.dirs(from).values()].map((dir) => rename(dir, join(dir, '..', to))));
  }

  /**
   * Changes a live sandbox's limits (the same files create wrote). With `previous` (the limits it
   * has now, as a warm sandbox's claim knows them) only what differs is written: each write is a
   * syscall round on the claim's path. The v1 controllers are independent of one another and
   * written side by side; within one, the order create uses is kept.
   */
  async update(sandboxId: string, limits: CgroupLimits, previous?: CgroupLimits): Promise<void> {
    if (this.version === 'v2') {
      await this.limitV2(sandboxId, limits);
      return;
    }
    const changed = (key: keyof CgroupLimits) => previous === undefined || previous[key] !== limits[key];
    const cpu = changed('vcpus') ? this.v1(sandboxId, 'cpu') : undefined;
    const memory = changed('memoryMb') ? this.v1(sandboxId, 'memory') : undefined;
    const pids = changed('pidsMax') ? this.v1(sandboxId, 'pids') : undefined;
    await Promise.all([
      cpu &&
        (async () => {
          await writeFile(join(cpu, 'cpu.cfs_quota_us'), String(limits.vcpus * CPU_PERIOD_US));
          await writeFile(join(cpu, 'cpu.shares'), String(cpuSharesV1(limits.vcpus)));
        })(),
      memory &&
        (async () => {
          const limit = limits.memoryMb * 1024 * 1024;
          const was = previous && previous.memoryMb * 1024 * 1024;
          await this.writeMemoryLimit(memory, limit + ENVD_MEMORY_RESERVE_MB * 1024 * 1024, was && was + ENVD_MEMORY_RESERVE_MB * 1024 * 1024);
          await this.writeMemoryLimit(join(memory, USER_GROUP), limit, was);
        })(),
      pids &&
        (async () => {
          await writeFile(join(pids, 'pids.max'), String(limits.pidsMax + ENVD_PIDS_RESERVE));
          await writeFile(join(pids, USER_GROUP, 'pids.max'), String(limits.pidsMax));
        })(),
    ]);
  }

  /**
   * Delegates the controllers down to the agent's group. A refusal here (already enabled by the
   * host's manager, or a root with processes of its own) is not fatal by itself: the sandbox's own
   * subtree_control write fails, and so the create, where they did not reach the agent's group.
   */
  private async enableV2Controllers(): Promise<void> {
    const parent = join(this.root, this.group);
    await mkdir(parent, { recursive: true });
    const enable = V2_CONTROLLERS.map((c) => `+${c}`).join(' ');
    for (const dir of [this.root, parent]) await writeFile(join(dir, 'cgroup.subtree_control'), enable).catch(() => undefined);
  }

  /**
   * The sandbox's group holds the limits plus envd's reserve, its user leaf the limits as asked
   * (the v1 layout's split, so the OOM killer and the pids limit meet the user's commands first).
   */
  private async limitV2(id: string, limits: CgroupLimits): Promise<void> {
    const { sandbox, user } = this.v2(id);
    const memory = limits.memoryMb * 1024 * 1024;
    await writeFile(join(sandbox, 'cpu.max'), `${limits.vcpus * CPU_PERIOD_US} ${CPU_PERIOD_US}`);
    await writeFile(join(sandbox, 'cpu.weight'), String(cpuWeightV2(limits.vcpus)));
    for (const [dir, bytes, pids] of [
      [sandbox, memory + ENVD_MEMORY_RESERVE_MB * 1024 * 1024, limits.pidsMax + ENVD_PIDS_RESERVE],
      [user, memory, limits.pidsMax],
    ] as const) {
      // Swap would let a sandbox outgrow its limit on hosts that have it.
      if (existsSync(join(dir, 'memory.swap.max'))) await writeFile(join(dir, 'memory.swap.max'), '0');
      await writeFile(join(dir, 'memory.max'), String(bytes));
      await writeFile(join(dir, 'pids.max'), String(pids));
    }
  }

  async addProcess(sandboxId: string, pid: number): Promise<void> {
    if (this.version === 'v2') {
      await writeFile(join(this.v2(sandboxId).envd, 'cgroup.procs'), String(pid));
      return;
    }
    for (const dir of this.dirs(sandboxId).values()) await writeFile(join(dir, 'cgroup.procs'), String(pid));
  }

  async stats(sandboxId: string): Promise<CgroupStats> {
    const num = async (file: string | undefined) => (file ? Number((await readFile(file, 'utf8').catch(() => '0')).trim().split(/\s+/)[0]) || 0 : 0);
    if (this.version === 'v2') {
      const { sandbox: dir, user } = this.v2(sandboxId);
      const cpuStat = await readFile(join(dir, 'cpu.stat'), 'utf8').catch(() => '');
      // The user leaf's: the limit the sandbox asked for, and the kills it caused (envd's reserve is not theirs).
      const events = await readFile(join(user, 'memory.events'), 'utf8').catch(() => '');
      const max = (await readFile(join(user, 'memory.max'), 'utf8').catch(() => 'max')).trim();
      return {
        cpuUsageUsec: Number(/usage_usec (\d+)/.exec(cpuStat)?.[1] ?? 0),
        memoryBytes: await num(join(dir, 'memory.current')),
        memoryLimitBytes: max === 'max' ? 0 : Number(max),
        pids: await num(join(dir, 'pids.current')),
        oomKills: Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0),
      };
    }
    const cpuacct = this.v1(sandboxId, 'cpuacct');
    const memory = this.v1(sandboxId, 'memory');
    const pids = this.v1(sandboxId, 'pids');
    const userMemory = memory && join(memory, USER_GROUP);
    const oomControl = userMemory ? await readFile(join(userMemory, 'memory.oom_control'), 'utf8').catch(() => '') : '';
    return {
      cpuUsageUsec: Math.round((await num(cpuacct && join(cpuacct, 'cpuacct.usage'))) / 1000),
      memoryBytes: await num(memory && join(memory, 'memory.usage_in_bytes')),
      memoryLimitBytes: await num(userMemory && join(userMemory, 'memory.limit_in_bytes')),
      pids: await num(pids && join(pids, 'pids.current')),
      oomKills: Number(/oom_kill (\d+)/.exec(oomControl)?.[1] ?? 0),
    };
  }

  /** Stops every process of the sandbox where it stands (and waits until the kernel says so). */
  async freeze(sandboxId: string): Promise<void> {
    await this.setFrozen(sandboxId, true);
  }

  async thaw(sandboxId: string): Promise<void> {
    await this.setFrozen(sandboxId, false);
  }

  /** Whether the sandbox's processes are frozen (or being frozen); false when it has no cgroup. */
  async isFrozen(sandboxId: string): Promise<boolean> {
    if (this.version === 'v2') {
      return (await readFile(join(this.root, this.group, sandboxId, 'cgroup.freeze'), 'utf8').catch(() => '0')).trim() === '1';
    }
    const dir = this.v1(sandboxId, 'freezer');
    const state = dir ? (await readFile(join(dir, 'freezer.state'), 'utf8').catch(() => '')).trim() : '';
    return state === 'FROZEN' || state === 'FREEZING';
  }

  private async setFrozen(sandboxId: string, frozen: boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    if (this.version === 'v2') {
      const dir = join(this.root, this.group, sandboxId);
      await writeFile(join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
      while (Date.now() < deadline) {
        if ((await readFile(join(dir, 'cgroup.events'), 'utf8')).includes(`frozen ${frozen ? 1 : 0}`)) return;
        await sleep(2);
      }
    } else {
      const dir = this.v1(sandboxId, 'freezer');
      if (!dir) throw new Error('the freezer controller is not mounted');
      const want = frozen ? 'FROZEN' : 'THAWED';
      // v1 freezes once per write: a task caught mid-fork leaves the group FREEZING until FROZEN
      // is written again, so the write is repeated until the state holds (as runc does).
      while (Date.now() < deadline) {
        await writeFile(join(dir, 'freezer.state'), want);
        if ((await readFile(join(dir, 'freezer.state'), 'utf8')).trim() === want) return;
        await sleep(2);
      }
    }
    throw new Error(`cgroup of ${sandboxId} did not become ${frozen ? 'frozen' : 'thawed'} in time`);
  }

  /** The sandbox's directories, nested ones (the user and envd groups) first. */
  private allDirs(sandboxId: string): string[] {
    const dirs = [...this.dirs(sandboxId).values()];
    if (this.version === 'v2') {
      const { sandbox, envd, user } = this.v2(sandboxId);
      return [user, envd, sandbox];
    }
    const nested = (['memory', 'pids'] as const).map((c) => this.v1(sandboxId, c)).filter((d): d is string => !!d).map((d) => join(d, USER_GROUP));
    return [...nested, ...dirs];
  }

  private async pidsIn(sandboxId: string): Promise<number[]> {
    const pids = new Set<number>();
    for (const dir of this.allDirs(sandboxId)) {
      const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const pid of text.split('\n').filter(Boolean)) pids.add(Number(pid));
    }
    return [...pids];
  }

  /**
   * Sends SIGKILL to every process of the sandbox, frozen or not. Frozen (v1) processes die only
   * once thawed, and do so before running another instruction of their own: the pause uses this
   * to end a sandbox exactly at its stop-the-world point. `spare` are left alive (a supervisor
   * that must reap its child: this host's PID 1 may never reap orphans).
   */
  async killAll(sandboxId: string, spare: number[] = []): Promise<number> {
    const pids = (await this.pidsIn(sandboxId)).filter((pid) => !spare.includes(pid));
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    return pids.length;
  }

  /** Kills what is left inside, then removes every directory. Already gone is success. */
  async remove(sandboxId: string): Promise<void> {
    const errors: Error[] = [];
    const deadline = Date.now() + 5000;
    // A frozen cgroup's processes cannot die: thaw first.
    await this.thaw(sandboxId).catch(() => undefined);
    for (let pids = await this.pidsIn(sandboxId); pids.length > 0 && Date.now() < deadline; pids = await this.pidsIn(sandboxId)) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      await sleep(5);
    }
    for (const dir of this.allDirs(sandboxId)) {
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code === 'EBUSY' && attempt < 50) {
            await sleep(10);
            continue;
          }
          errors.push(new Error(`rmdir ${dir}: ${(error as Error).message}`));
          break;
        }
      }
    }
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  /** Sandbox ids that have a cgroup under this agent's group (for recovery). */
  async list(): Promise<string[]> {
    const first = [...this.dirs('x').values()][0];
    if (!first) return [];
    const parent = join(first, '..');
    const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  }

  /** Removes the agent's parent group where it is empty. */
  async removeGroup(): Promise<void> {
    for (const dir of this.dirs('x').values()) await rmdir(join(dir, '..')).catch(() => undefined);
  }
}

function ignoreGone(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

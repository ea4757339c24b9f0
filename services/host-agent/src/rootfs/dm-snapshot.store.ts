import { open, rm, stat } from 'node:fs/promises';
import { CleanupStack } from '../cleanup/cleanup-stack';
import { CommandRunner, hostCommandRunner, isAbsent, isBusy } from './command-runner';
import { LoopRegistry } from './loop-registry';

/** Everything one sandbox's block-device root is made of; recorded so it can be torn down or restored. */
export interface DmRootfs {
  /** Device-mapper name (`wrenn-<agent>-<sandbox>`) and its node under /dev/mapper. */
  name: string;
  device: string;
  /** The base image (ext4 file) whose shared read-only loop device is the origin. */
  imagePath: string;
  origin: string;
  /** The sandbox's sparse copy-on-write file and the loop device over it. */
  cowPath: string;
  cowLoop: string;
}

export interface DmSnapshotStoreOptions {
  /** Prefix of every device-mapper name this store creates (one per agent). */
  namePrefix: string;
  runner?: CommandRunner;
  loops?: LoopRegistry;
  /** Tries of `dmsetup remove` while the device is busy, waiting base·2^n ms between them. */
  removeAttempts?: number;
  removeBackoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Where the kernel puts device-mapper nodes (default /dev/mapper; tests with no dm point elsewhere). */
  deviceDir?: string;
}

/** dm-snapshot chunk size in 512-byte sectors (4 KiB: the guest's page and block size). */
const CHUNK_SECTORS = 8;

/**
 * Sandbox root filesystems as device-mapper snapshots: the base image's shared read-only loop
 * device is the origin, each sandbox has its own sparse CoW file (on its own loop device) that
 * receives its writes. A persistent ("P") exception store keeps the CoW file meaningful after the
 * device is removed, which is what pause relies on: remove the device, keep the CoW file, and
 * `restore` builds the same device again, on any slot.
 */
export class DmSnapshotStore {
  private readonly runner: CommandRunner;
  readonly loops: LoopRegistry;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: DmSnapshotStoreOptions) {
    this.runner = options.runner ?? hostCommandRunner;
    this.loops = options.loops ?? new LoopRegistry(this.runner);
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  nameFor(sandboxId: string): string {
    return `${this.options.namePrefix}${sandboxId}`;
  }

  /** A new sandbox root: an empty sparse CoW file of `cowSizeBytes` over `imagePath`. */
  async create(sandboxId: string, imagePath: string, cowPath: string, cowSizeBytes: number): Promise<DmRootfs> {
    const cleanup = new CleanupStack();
    try {
      // 'wx': an existing CoW file belongs to someone (a paused sandbox); never overwrite it.
      const file = await open(cowPath, 'wx', 0o600);
      cleanup.push('cow file', () => rm(cowPath, { force: true }));
      try {
        await file.truncate(cowSizeBytes);
      } finally {
        await file.close();
      }
      const rootfs = await this.activate(sandboxId, imagePath, cowPath);
      return rootfs;
    } catch (error) {
      return cleanup.rollback(error);
    }
  }

  /** The device of a sandbox whose CoW file was kept (pause): same contents, new device. */
  async restore(sandboxId: string, imagePath: string, cowPath: string): Promise<DmRootfs> {
    await stat(cowPath); // a missing CoW file would otherwise become an empty, "valid" one
    return this.activate(sandboxId, imagePath, cowPath);
  }

  /**
   * Removes the device, then the CoW file's loop device, then one use of the origin; the CoW file
   * itself only with `removeCow` (destroy), not on pause. Every step is tried; parts already gone
   * count as removed. The VM using the device must be gone before this is called.
   */
  async remove(rootfs: DmRootfs, options: { removeCow: boolean }): Promise<void> {
    const errors: Error[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        if (!isAbsent(error)) errors.push(new Error(`${what}: ${(error as Error).message}`));
      }
    };
    let deviceGone = true;
    await attempt('dmsetup remove', async () => {
      try {
        await this.removeDevice(rootfs.name);
      } catch (error) {
        if (!isAbsent(error)) deviceGone = false;
        throw error;
      }
    });
    // Detaching loops under a live dm table would only mark them for auto-clear; skip instead,
    // so a retry finds the same pieces.
    if (deviceGone) {
      await attempt('cow loop', () => this.runner.run('losetup', ['--detach', rootfs.cowLoop]));
      await attempt('origin', () => this.loops.release(rootfs.imagePath));
      if (options.removeCow) await attempt('cow file', () => rm(rootfs.cowPath, { force: true }));
    }
    if (errors.length) throw new AggregateError(errors, `rootfs ${rootfs.name}: ${errors.map((e) => e.message).join('; ')}`);
  }

  /**
   * For a sandbox whose record was never written (crash mid-create): removes its device by name
   * and detaches every loop device over its CoW file. The origin's loop is settled by
   * LoopRegistry.recover.
   */
  async removeByName(name: string, cowPath: string): Promise<void> {
    await this.removeDevice(name).catch((error) => {
      if (!isAbsent(error)) throw error;
    });
    const listed = await this.runner.run('losetup', ['--associated', cowPath]).catch(() => '');
    for (const line of listed.split('\n')) {
      const device = /^(\/dev\/loop\d+):/.exec(line)?.[1];
      if (device) await this.runner.run('losetup', ['--detach', device]);
    }
  }

  /**
   * Writes the sandbox's whole filesystem (origin + its writes) as one standalone sparse image
   * at `target`: the base of a template. The device must be active and quiescent (VM paused).
   */
  async flatten(rootfs: DmRootfs, target: string): Promise<{ sizeBytes: number }> {
    try {
      await this.runner.run('cp', ['--sparse=always', rootfs.device, target]);
    } catch (error) {
      await rm(target, { force: true });
      throw error;
    }
    const s = await stat(target);
    return { sizeBytes: s.blocks * 512 };
  }

  /** Bytes the CoW file really holds on disk (it is sparse: its length is only a bound). */
  async cowBytes(cowPath: string): Promise<number> {
    const s = await stat(cowPath);
    return s.blocks * 512;
  }

  /** Names of this store's devices the kernel has (for recovery after a restart). */
  async listDevices(): Promise<string[]> {
    const out = await this.runner.run('dmsetup', ['ls', '--target', 'snapshot']).catch((error) => {
      if (/No devices found/i.test(String((error as { stderr?: string }).stderr ?? ''))) return '';
      throw error;
    });
    return out
      .split('\n')
      .map((line) => line.split(/\s+/)[0])
      .filter((name) => !!name && name.startsWith(this.options.namePrefix));
  }

  private async activate(sandboxId: string, imagePath: string, cowPath: string): Promise<DmRootfs> {
    const cleanup = new CleanupStack();
    try {
      const { size } = await stat(imagePath);
      if (size % 512 !== 0) throw new Error(`base image ${imagePath} is ${size} bytes, not a whole number of sectors`);
      const origin = await this.loops.acquire(imagePath);
      cleanup.push('origin', () => this.loops.release(imagePath));
      const cowLoop = (await this.runner.run('losetup', ['--find', '--show', cowPath])).trim();
      cleanup.push('cow loop', () => this.runner.run('losetup', ['--detach', cowLoop]));
      const name = this.nameFor(sandboxId);
      const table = `0 ${size / 512} snapshot ${origin} ${cowLoop} P ${CHUNK_SECTORS}`;
      await this.runner.run('dmsetup', ['create', name, '--table', table]);
      cleanup.push('dm device', () => this.removeDevice(name));
      return { name, device: `${this.options.deviceDir ?? '/dev/mapper'}/${name}`, imagePath, origin, cowPath, cowLoop };
    } catch (error) {
      return cleanup.rollback(error);
    }
  }

  /**
   * `dmsetup remove`, retried with backoff only while the kernel says the device is busy (a
   * process that just exited may still hold it for a moment); any other error is final.
   */
  private async removeDevice(name: string): Promise<void> {
    const attempts = this.options.removeAttempts ?? 6;
    const base = this.options.removeBackoffMs ?? 50;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.runner.run('dmsetup', ['remove', name]);
        return;
      } catch (error) {
        if (!isBusy(error) || attempt >= attempts) throw error;
        await this.sleep(base * 2 ** (attempt - 1));
      }
    }
  }
}

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, rm, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { dataExtents } from '../snapshot/sparse-pages';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * A sandbox's own disk: a sparse ext4 image file, loop-mounted on the host under the sandbox's
 * root-only directory, holding the overlay's upper/ and work/. Its size is the sandbox's disk
 * quota, enforced by the kernel: a full disk is ENOSPC inside the sandbox and nothing else, and
 * the host loses at most that much space. Mounted with `discard`, so files the sandbox deletes
 * give their blocks back to the host (the image stays as sparse as its contents).
 *
 * Pause moves the image file (a rename), resume mounts it again, a template copies its upper.
 */
export const DISK_MOUNT_OPTIONS = 'loop,nosuid,nodev,discard,noatime';

/** The part of the native addon (native/src/disk-mount.cc) that mounts and detaches disks. */
interface DiskMountAddon {
  /** A free loop device on `image` (autoclear), then mount(2) of its ext4 on `target`. */
  mountDiskImage(image: string, target: string, flags: number, data: string): Promise<void>;
  /** umount2(MNT_DETACH) on a worker thread: rejects with `code` (EINVAL: not a mount point). */
  detachMount(target: string): Promise<void>;
  /** mount(2)'s flags (MS_*) by option name. */
  mountFlags: { nosuid: number; nodev: number; noatime: number };
}

let addon: DiskMountAddon | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const native = (): DiskMountAddon => (addon ??= require('@wrenn/native') as DiskMountAddon);

/** Makes a blank image of `sizeMb` with upper/ and work/ in it (canonical ids: 0 is the sandbox's root). */
export async function createDiskImage(image: string, sizeMb: number): Promise<void> {
  if (!Number.isInteger(sizeMb) || sizeMb < 16) throw new Error(`disk size ${sizeMb} MiB is too small`);
  await writeFile(image, '', { flag: 'wx', mode: 0o600 });
  try {
    await truncate(image, sizeMb * 1024 * 1024);
    // Journal kept (a host crash must not cost a user their files); lazy init keeps the image
    // sparse and the format fast (~15 ms for 4 GiB); no reserved blocks: it is all the sandbox's.
    // upper/ and work/ are made by mke2fs itself from an empty skeleton, without a mount.
    const skeleton = `${image}.skel`;
    await mkdir(join(skeleton, 'upper'), { recursive: true, mode: 0o755 });
    await mkdir(join(skeleton, 'work'), { recursive: true, mode: 0o700 });
    try {
      await exec('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0', '-d', skeleton, image]);
    } finally {
      await rm(skeleton, { recursive: true, force: true });
    }
  } catch (error) {
    await rm(image, { force: true });
    throw error;
  }
}

/**
 * A copy of a blank image made by createDiskImage, sparse as the original (only its data extents
 * are written, a few MiB of a 4 GiB disk): the same bytes mkfs would write again, without
 * running it. `blank` must never have been mounted (nothing of any sandbox is on it).
 */
export async function copyBlankImage(blank: string, image: string): Promise<void> {
  const { size } = await stat(blank);
  const from = await open(blank, 'r');
  // Never over an existing file: only ever a new image.
  const to = await open(image, 'wx', 0o600).catch(async (error) => {
    await from.close();
    throw error;
  });
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (const { start, end } of dataExtents(blank)) {
      for (let at = start; at < end; ) {
        const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, end - at), at);
        if (bytesRead === 0) break;
        await to.write(buffer, 0, bytesRead, at);
        at += bytesRead;
      }
    }
    await to.truncate(size);
  } catch (error) {
    await rm(image, { force: true });
    throw error;
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
}

/**
 * Mounts an image on `dir` (made if missing) with DISK_MOUNT_OPTIONS, by syscalls (the native
 * addon) rather than mount(8): a process start less on every create.
 */
export async function mountDiskImage(image: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const n = native();
  await n.mountDiskImage(image, dir, n.mountFlags.nosuid | n.mountFlags.nodev | n.mountFlags.noatime, 'discard');
}

/**
 * Detaches the mount on `target` now (MNT_DETACH: the filesystem goes, and its loop device with
 * it, once nothing uses it any more); not a mount point (any more) is success.
 */
export async function detachMount(target: string): Promise<void> {
  try {
    await native().detachMount(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL' && (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Unmounts a sandbox's disk; not mounted is success. The loop device goes with it (autoclear). */
export async function unmountDiskImage(dir: string): Promise<void> {
  if (!(await isMountPoint(dir))) return;
  await exec('umount', [dir]);
}

export async function isMountPoint(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return false;
  const [self, parent] = await Promise.all([stat(dir), stat(join(dir, '..'))]);
  return self.dev !== parent.dev;
}

/** Bytes in use on a mounted disk, from the filesystem's own counters (no walk of the sandbox's files). */
export async function diskUsedBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

/** Host disk an image really takes (allocated blocks of the sparse file). */
export async function imageAllocatedBytes(image: string): Promise<number> {
  return (await stat(image)).blocks * 512;
}

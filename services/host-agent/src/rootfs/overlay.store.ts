import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface OverlayLayout {
  /** The sandbox's disk: a sparse ext4 image (see disk-image.ts). What pause and resume move. */
  image: string;
  /** Where the image is mounted on the host (root-only dir): it holds upper/ and work/. */
  disk: string;
  /** The sandbox's own writes, as the host sees them: everything that makes it differ from its layers. */
  upper: string;
  /** Where the union is mounted — inside the sandbox's own mount namespace only. */
  merged: string;
  /** Where the start stages its private mounts (idmapped layers, sysfs); empty on the host. */
  stage: string;
}

/**
 * Paths of a sandbox's root filesystem under its directory. The overlay itself is mounted by the
 * sandbox helper inside the sandbox's private mount namespace, so it vanishes with the sandbox;
 * the host's mount table holds only the sandbox's disk image.
 */
export class OverlayStore {
  layout(sandboxDir: string): OverlayLayout {
    return {
      image: join(sandboxDir, 'disk.img'),
      disk: join(sandboxDir, 'disk'),
      upper: join(sandboxDir, 'disk', 'upper'),
      merged: join(sandboxDir, 'merged'),
      stage: join(sandboxDir, 'stage'),
    };
  }

  async prepare(layout: OverlayLayout): Promise<void> {
    await mkdir(layout.merged, { recursive: true, mode: 0o700 });
    await mkdir(layout.stage, { recursive: true, mode: 0o700 });
  }

  /**
   * Makes each path (relative to the root) a real directory, and each file path an empty regular
   * file, in the upper dir — replacing whatever else the sandbox left there (a symlink, a file, a
   * whiteout, a directory where a file goes). The overlay shows the upper's entry above anything
   * in a lower layer, so these paths of the merged root then hold no symlink: a sandbox's start
   * can mount on them without being led outside. Only for a sandbox that is not running.
   */
  async ensureMountPoints(upper: string, points: { dirs: string[]; files: string[] }): Promise<void> {
    const dir = async (rel: string) => {
      let path = upper;
      for (const part of rel.split('/').filter(Boolean)) {
        path = join(path, part);
        const st = await lstat(path).catch(() => undefined);
        if (st?.isDirectory()) continue;
        if (st) await rm(path, { force: true });
        await mkdir(path, { mode: 0o755 });
      }
    };
    for (const rel of points.dirs) await dir(rel);
    for (const rel of points.files) {
      await dir(dirname(rel));
      const path = join(upper, rel);
      const st = await lstat(path).catch(() => undefined);
      if (st?.isFile()) continue;
      if (st) await rm(path, { force: true, recursive: true });
      await writeFile(path, '', { flag: 'wx', mode: 0o644 });
    }
  }
}

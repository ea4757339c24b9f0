import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface OverlayLayout {
  /** Read-only base image, shared by every sandbox of the template. */
  lower: string;
  /** The sandbox's own writes: everything that makes it differ from the image. */
  upper: string;
  work: string;
  /** Where the union is mounted — inside the sandbox's own mount namespace only. */
  merged: string;
}

/**
 * Directories of a sandbox's overlay root. The mount itself happens inside the sandbox's mount
 * namespace (see the namespace runtime's init script), so it vanishes with the sandbox and the
 * host's mount table never holds one per sandbox; the upper dir stays a plain host directory,
 * which is what pause/snapshots move around.
 */
export class OverlayStore {
  layout(sandboxDir: string, imageDir: string): OverlayLayout {
    return {
      lower: imageDir,
      upper: join(sandboxDir, 'upper'),
      work: join(sandboxDir, 'work'),
      merged: join(sandboxDir, 'merged'),
    };
  }

  async prepare(layout: OverlayLayout): Promise<void> {
    await mkdir(layout.upper, { recursive: true, mode: 0o755 });
    await mkdir(layout.work, { recursive: true, mode: 0o700 });
    await mkdir(layout.merged, { recursive: true, mode: 0o755 });
  }

  async remove(layout: OverlayLayout): Promise<void> {
    await rm(layout.upper, { recursive: true, force: true });
    await rm(layout.work, { recursive: true, force: true });
    await rm(layout.merged, { recursive: true, force: true });
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

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

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
}

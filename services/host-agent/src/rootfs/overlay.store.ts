import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

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
}

import { SandboxSpec } from '@wrenn/contracts';
import { rm } from 'node:fs/promises';
import { DmRootfs, DmSnapshotStore } from './dm-snapshot.store';
import { RootfsStore } from './rootfs-store';

/** What a microVM's root drive is made from: its image and its own CoW file. */
export interface DmSource {
  imagePath: string;
  cowPath: string;
  /** A new sandbox: a fresh CoW file of this length (its removal goes with the device). Absent: the paused sandbox's CoW, kept. */
  cowSizeBytes?: number;
}

/** The device and whether releasing it also removes its CoW file (a new sandbox's, not a paused one's). */
export type DmRoot = DmRootfs & { removeCow: boolean };

/** A microVM's root drive as a device-mapper snapshot of its image over its CoW file. */
export class DmRootfsStore implements RootfsStore<DmSource, DmRoot> {
  constructor(readonly dm: DmSnapshotStore) {}

  async make(spec: SandboxSpec, _dir: string, source: DmSource): Promise<DmRoot> {
    if (source.cowSizeBytes !== undefined) {
      return { ...(await this.dm.create(spec.sandboxId, source.imagePath, source.cowPath, source.cowSizeBytes)), removeCow: true };
    }
    return { ...(await this.dm.restore(spec.sandboxId, source.imagePath, source.cowPath)), removeCow: false };
  }

  async release(root: DmRoot): Promise<void> {
    const { removeCow, ...device } = root;
    await this.dm.remove(device, { removeCow });
  }

  async discardDir(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }
}

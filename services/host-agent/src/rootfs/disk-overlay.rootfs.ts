import { ErrorCode, SandboxSpec, WrennError } from '@wrenn/contracts';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { NamespaceRoot } from '../runtime/namespace/namespace.driver';
import { createDiskImage, detachMount, mountDiskImage, unmountDiskImage } from './disk-image';
import type { DiskPool } from './disk-pool';
import { OverlayStore } from './overlay.store';
import { RootfsStore } from './rootfs-store';

/** What a namespace sandbox's root is made from. */
export interface DiskOverlaySource {
  /** The overlay's read-only stack, top first (template layers, then the base image). */
  lower: string[];
  /** A paused sandbox's disk image, moved in (and back out if the start fails); absent: a new disk. */
  restoreDisk?: string;
  diskMb: number;
  /** A new sandbox's identity files (a resumed one keeps its own: it may have changed them). */
  identity?: { resolvConf: string };
}

/**
 * A namespace sandbox's root: its own sparse ext4 disk image (mounted on the host, holding the
 * overlay's upper and work dirs) over the shared read-only layers. The overlay itself is mounted
 * by the sandbox helper inside the sandbox's mount namespace.
 */
export class DiskOverlayRootfs implements RootfsStore<DiskOverlaySource, NamespaceRoot & { image: string }> {
  private readonly overlay = new OverlayStore();

  /** `disks`: blank images made ahead (a new sandbox's disk is taken from it when one is ready). */
  constructor(private readonly disks?: DiskPool) {}

  async make(spec: SandboxSpec, dir: string, source: DiskOverlaySource): Promise<NamespaceRoot & { image: string }> {
    const base = source.lower[source.lower.length - 1];
    if (!existsSync(join(base, 'etc/wrenn-image.json'))) {
      throw new WrennError(ErrorCode.TemplateNotFound, `template "${spec.template}" has no image on this host`);
    }
    for (const layer of source.lower.slice(0, -1)) {
      if (!existsSync(layer)) throw new WrennError(ErrorCode.TemplateNotFound, `template layer ${layer} is missing on this host`);
    }
    const layout = this.overlay.layout(dir);
    if (source.restoreDisk) await rename(source.restoreDisk, layout.image);
    else if (!(await this.disks?.takeInto(layout.image, source.diskMb))) await createDiskImage(layout.image, source.diskMb);
    await mountDiskImage(layout.image, layout.disk);
    try {
      await this.overlay.prepare(layout);
      if (source.identity) await writeIdentityFiles(layout.upper, spec.sandboxId, source.identity.resolvConf);
    } catch (error) {
      await unmountDiskImage(layout.disk).catch(() => undefined);
      throw error;
    }
    return { lower: source.lower, disk: layout.disk, upper: layout.upper, merged: layout.merged, stage: layout.stage, image: layout.image };
  }

  /** Lazily: a dead sandbox's mount namespace may let go of its disk a little after its last process. */
  async release(root: { disk: string }): Promise<void> {
    await this.unmountUnder(dirname(root.disk));
    this.disks?.released();
  }

  async discardDir(dir: string, source: DiskOverlaySource): Promise<void> {
    const { image } = this.overlay.layout(dir);
    if (source.restoreDisk && existsSync(image) && !existsSync(source.restoreDisk)) await rename(image, source.restoreDisk);
    await rm(dir, { recursive: true, force: true });
  }

  /** Everything the host still has mounted below a dead sandbox's dir goes (deepest first, lazily). */
  async unmountUnder(dir: string): Promise<void> {
    const mounts = (await readFile('/proc/self/mounts', 'utf8'))
      .split('\n')
      .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((target): target is string => !!target && (target === dir || target.startsWith(`${dir}/`)))
      .sort((a, b) => b.length - a.length);
    // umount2(MNT_DETACH) itself: no umount(8) to start, and nothing that blocks the agent.
    for (const target of mounts) await detachMount(target);
  }
}

/** resolv.conf and hosts live in the sandbox's own layer: its to read and change. */
export async function writeIdentityFiles(upper: string, sandboxId: string, resolvConf: string): Promise<void> {
  await mkdir(join(upper, 'etc'), { recursive: true });
  await Promise.all([writeFile(join(upper, 'etc/resolv.conf'), resolvConf), writeNameFiles(upper, sandboxId)]);
}

/** The files that name the sandbox (hosts, hostname), in an upper that has etc/: a warm sandbox's claim. */
export async function writeNameFiles(upper: string, sandboxId: string): Promise<void> {
  await Promise.all([
    writeFile(join(upper, 'etc/hosts'), `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${sandboxId}\n`),
    writeFile(join(upper, 'etc/hostname'), `${sandboxId}\n`),
  ]);
}

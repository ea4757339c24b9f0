import { isSandboxId, SandboxSpec } from '@wrenn/contracts';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What a paused sandbox leaves on disk beside its files: enough to start it again. */
export interface SnapshotMeta {
  sandboxId: string;
  snapshotRef: string;
  spec: SandboxSpec;
  /** The overlay's read-only layers, top first; the last is the base image. Resume mounts the same stack. */
  lower: string[];
  templateId?: string;
  /** Allocated blocks of the saved files (0 until the snapshot is complete). */
  sizeBytes: number;
  pausedAt: string;
}

const META = 'meta.json';
const PARTIAL = '.partial';
const DISK = 'disk.img';

/**
 * Paused sandboxes' files under <root>/<sandboxId>/{meta.json,disk.img}. A snapshot is built in
 * <sandboxId>.partial and renamed into place only when its files and meta are both there, so a
 * directory without the suffix is always complete.
 *
 * A partial snapshot with its disk.img was made after its sandbox's processes were killed: it holds
 * the user's only copy of their files and is completed, never thrown away (see recover()).
 */
export class SnapshotStore {
  constructor(readonly root: string) {}

  dir(sandboxId: string): string {
    return join(this.root, sandboxId);
  }

  partialDir(sandboxId: string): string {
    return join(this.root, `${sandboxId}${PARTIAL}`);
  }

  /** The snapshot's files: the sandbox's disk image. */
  disk(sandboxId: string): string {
    return join(this.dir(sandboxId), DISK);
  }

  async read(sandboxId: string): Promise<SnapshotMeta | undefined> {
    return readJson<SnapshotMeta>(join(this.dir(sandboxId), META));
  }

  async readPartial(sandboxId: string): Promise<SnapshotMeta | undefined> {
    return readJson<SnapshotMeta>(join(this.partialDir(sandboxId), META));
  }

  hasPartialFiles(sandboxId: string): boolean {
    return existsSync(join(this.partialDir(sandboxId), DISK));
  }

  /** Starts a snapshot: its meta in <id>.partial, no files yet (nothing to lose if abandoned). */
  async begin(meta: SnapshotMeta): Promise<void> {
    const dir = this.partialDir(meta.sandboxId);
    if (this.hasPartialFiles(meta.sandboxId)) throw new Error(`snapshot of ${meta.sandboxId} already holds its files; it is completed, not begun again`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeJson(join(dir, META), meta);
  }

  /** Abandons a snapshot that holds no files yet. */
  async abort(sandboxId: string): Promise<void> {
    if (this.hasPartialFiles(sandboxId)) throw new Error(`snapshot of ${sandboxId} already holds its files; it is completed, not aborted`);
    await rm(this.partialDir(sandboxId), { recursive: true, force: true });
  }

  /**
   * Moves the sandbox's disk image in (a rename: same filesystem, no copy), measures it and makes
   * the snapshot complete. Safe to call again after a failure at any point of it.
   * `measure` gives the files' size on disk (allocated blocks).
   */
  async commit(sandboxId: string, diskFrom: string | undefined, measure: (file: string) => Promise<number>): Promise<SnapshotMeta> {
    const dir = this.partialDir(sandboxId);
    const meta = await readJson<SnapshotMeta>(join(dir, META));
    if (!meta) throw new Error(`snapshot of ${sandboxId} was not begun`);
    const disk = join(dir, DISK);
    if (!existsSync(disk)) {
      if (!diskFrom || !existsSync(diskFrom)) throw new Error(`the files of ${sandboxId} are not where its snapshot expects them`);
      await rename(diskFrom, disk);
    }
    meta.sizeBytes = await measure(disk);
    await writeJson(join(dir, META), meta);
    await rename(dir, this.dir(sandboxId));
    return meta;
  }

  /** Puts a snapshot's files back where a failed resume took them from. */
  async restoreDisk(sandboxId: string, from: string): Promise<void> {
    if (existsSync(this.disk(sandboxId))) return;
    await rename(from, this.disk(sandboxId));
  }

  /** Removes a snapshot, complete or partial. Already gone is success. */
  async remove(sandboxId: string): Promise<void> {
    await rm(this.dir(sandboxId), { recursive: true, force: true });
    await rm(this.partialDir(sandboxId), { recursive: true, force: true });
  }

  /** Sandbox ids with a complete snapshot, and ids with a partial one. */
  async scan(): Promise<{ complete: string[]; partial: string[] }> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const complete: string[] = [];
    const partial: string[] = [];
    for (const name of (await readdir(this.root)).sort()) {
      if (name.endsWith(PARTIAL) && isSandboxId(name.slice(0, -PARTIAL.length))) partial.push(name.slice(0, -PARTIAL.length));
      else if (isSandboxId(name)) complete.push(name);
      // Anything else is not ours to judge: left alone.
    }
    return { complete, partial };
  }
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Writes next to the target and renames: a reader sees the old or the new file, never half of one. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(value));
  await rename(`${file}.tmp`, file);
}

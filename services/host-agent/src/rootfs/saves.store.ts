import { isSandboxId, isTemplateId, SandboxSpec } from '@wrenn/contracts';
import { spawn } from 'node:child_process';
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

/** A template's files on this host: one read-only overlay layer over the layers it was made on. */
export interface TemplateMeta {
  templateId: string;
  name?: string;
  /** Layers under this template's own, top first; the last is the base image. */
  lower: string[];
  /** The base image directory at the bottom of the stack. */
  baseImage: string;
  sourceSandboxId: string;
  sizeBytes: number;
  createdAt: string;
}

/** The two kinds of saved sandbox, and what differs between them. */
export interface SaveKind {
  name: 'snapshot' | 'template';
  /** Names of saves of this kind (anything else under the root is not ours and is left alone). */
  isId(id: string): boolean;
  /** Name of the saved files in a save's dir: a snapshot's disk image, a template's layer. */
  files: string;
  /**
   * The files are the sandbox's own, moved in (a snapshot): once a partial save holds them they
   * are the user's only copy, completed and never thrown away. A template's are a copy.
   */
  moved: boolean;
}

/** A snapshot is a saved sandbox to resume: its own disk image, moved in. */
export const SNAPSHOTS: SaveKind = { name: 'snapshot', isId: isSandboxId, files: 'disk.img', moved: true };
/** A template is what new sandboxes start from: a copy of a sandbox's upper dir as a read-only layer. */
export const TEMPLATES: SaveKind = { name: 'template', isId: isTemplateId, files: 'layer', moved: false };

const META = 'meta.json';
const PARTIAL = '.partial';
const DELETING = '.deleting';

/**
 * Saved sandboxes of one kind under <root>/<id>/{meta.json,<files>}. A save is built in
 * <id>.partial (begun with its meta, then its files, moved or copied in) and renamed into place
 * when complete; a removal renames it to <id>.deleting first. So a directory named by the bare id
 * is always whole, and what has a suffix is a save or a removal that was cut short (scan()).
 */
export class SaveStore<Meta extends { sizeBytes: number }> {
  constructor(
    readonly root: string,
    readonly kind: SaveKind,
  ) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  partialDir(id: string): string {
    return join(this.root, `${id}${PARTIAL}`);
  }

  /** The files of a complete save (a snapshot's disk image, a template's layer). */
  files(id: string): string {
    return join(this.dir(id), this.kind.files);
  }

  hasPartialFiles(id: string): boolean {
    return existsSync(join(this.partialDir(id), this.kind.files));
  }

  read(id: string): Promise<Meta | undefined> {
    return readJson<Meta>(join(this.dir(id), META));
  }

  /** Starts a save: its meta in <id>.partial, no files yet (nothing to lose if abandoned). */
  async begin(id: string, meta: Meta): Promise<void> {
    if (this.kind.moved && this.hasPartialFiles(id)) throw new Error(`${this.kind.name} of ${id} already holds its files; it is completed, not begun again`);
    const dir = this.partialDir(id);
    await rm(dir, { recursive: true, force: true });
    // Root-only: the files keep the sandbox's setuid binaries and owners as they were inside.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeJson(join(dir, META), meta);
  }

  /** Abandons a save that was begun. One holding moved files is refused: those are completed. */
  async abort(id: string): Promise<void> {
    if (this.kind.moved && this.hasPartialFiles(id)) throw new Error(`${this.kind.name} of ${id} already holds its files; it is completed, not aborted`);
    await rm(this.partialDir(id), { recursive: true, force: true });
  }

  /** Moves the files into a begun save (a rename: same filesystem, no copy); there already is success. */
  async takeFiles(id: string, from: string): Promise<void> {
    if (!existsSync(join(this.partialDir(id), META))) throw new Error(`${this.kind.name} of ${id} was not begun`);
    if (this.hasPartialFiles(id)) return;
    if (!existsSync(from)) throw new Error(`the files of ${id} are not where its ${this.kind.name} expects them`);
    await rename(from, join(this.partialDir(id), this.kind.files));
  }

  /**
   * Copies `from` (an overlay upper dir) into a begun save, keeping what makes it a layer:
   * whiteouts (0:0 character devices), opaque-directory xattrs, owners, modes, links, times.
   * The caller keeps the source still (frozen) during the copy. All or nothing.
   */
  async copyFiles(id: string, from: string): Promise<void> {
    if (!existsSync(join(this.partialDir(id), META))) throw new Error(`${this.kind.name} of ${id} was not begun`);
    const to = join(this.partialDir(id), this.kind.files);
    await rm(to, { recursive: true, force: true });
    try {
      await copyTree(from, to);
    } catch (error) {
      await rm(to, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Makes a begun save complete: its files moved in from `filesFrom` unless already there,
   * measured by `measure` (their size on disk), the meta rewritten and the dir renamed into
   * place. Safe to call again after a failure at any point of it.
   */
  async commit(id: string, filesFrom: string | undefined, measure: (files: string) => Promise<number>): Promise<Meta> {
    const dir = this.partialDir(id);
    const meta = await readJson<Meta>(join(dir, META));
    if (!meta) throw new Error(`${this.kind.name} of ${id} was not begun`);
    const files = join(dir, this.kind.files);
    if (!existsSync(files)) {
      if (!filesFrom || !existsSync(filesFrom)) throw new Error(`the files of ${id} are not where its ${this.kind.name} expects them`);
      await rename(filesFrom, files);
    }
    meta.sizeBytes = await measure(files);
    await writeJson(join(dir, META), meta);
    await rename(dir, this.dir(id));
    return meta;
  }

  /** Puts a save's files back where a failed start took them from (a resume moves a snapshot's out). */
  async restoreFiles(id: string, from: string): Promise<void> {
    if (existsSync(this.files(id))) return;
    await rename(from, this.files(id));
  }

  /** Removes a save, complete or partial. Absent is success. */
  async remove(id: string): Promise<void> {
    const doomed = join(this.root, `${id}${DELETING}`);
    if (existsSync(this.dir(id))) await rename(this.dir(id), doomed);
    await rm(doomed, { recursive: true, force: true });
    await rm(this.partialDir(id), { recursive: true, force: true });
  }

  /** Ids with a complete save, with a partial one (a save cut short: the caller decides), and with a removal cut short. */
  async scan(): Promise<{ complete: string[]; partial: string[]; deleting: string[] }> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const found = { complete: [] as string[], partial: [] as string[], deleting: [] as string[] };
    for (const name of (await readdir(this.root)).sort()) {
      const id = name.replace(/\.(partial|deleting)$/, '');
      if (!this.kind.isId(id)) continue; // not ours: never touch what we did not name
      (name.endsWith(DELETING) ? found.deleting : name.endsWith(PARTIAL) ? found.partial : found.complete).push(id);
    }
    return found;
  }

  /**
   * After a restart, for a kind whose files are copies (templates): the complete saves
   * (answered), with half-copied, half-removed and meta-less ones removed (answered as removed,
   * by directory name). A kind whose files are moved keeps its partial saves for the caller.
   */
  async recoverCopies(): Promise<{ saves: Meta[]; removed: string[] }> {
    if (this.kind.moved) throw new Error(`a partial ${this.kind.name} may hold the only copy of its files: it is completed, not dropped`);
    const { complete, partial, deleting } = await this.scan();
    const saves: Meta[] = [];
    const removed: string[] = [];
    for (const id of complete) {
      const meta = await this.read(id);
      if (meta && existsSync(this.files(id))) saves.push(meta);
      else {
        await this.remove(id);
        removed.push(id);
      }
    }
    for (const id of partial) {
      await this.abort(id);
      removed.push(`${id}${PARTIAL}`);
    }
    for (const id of deleting) {
      await this.finishRemoval(id);
      removed.push(`${id}${DELETING}`);
    }
    return { saves, removed };
  }

  /** Finishes a removal cut short (<id>.deleting); the save itself, if any, is not touched. */
  async finishRemoval(id: string): Promise<void> {
    await rm(join(this.root, `${id}${DELETING}`), { recursive: true, force: true });
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Writes next to the target and renames: a reader sees the old or the new file, never half of one. */
async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(value));
  await rename(`${file}.tmp`, file);
}

/** `cp -a`: the one tool that copies device nodes, xattrs (trusted.* as root), hard links and times together. */
function copyTree(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '--', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    // cp's complaints name the sandbox's files: they stay out of the error, which reaches the API.
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`copying the sandbox's files failed (cp exited ${code})`))));
  });
}

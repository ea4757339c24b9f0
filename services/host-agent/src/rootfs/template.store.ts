import { isTemplateId } from '@wrenn/contracts';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJson } from './snapshot.store';

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

const META = 'meta.json';
const PARTIAL = '.partial';
const DELETING = '.deleting';

/**
 * Templates under <root>/<templateId>/{meta.json,layer/}. A template is copied into
 * <templateId>.partial and renamed into place when complete; deletion renames it to
 * <templateId>.deleting first. So a directory named by the bare id is always whole, and recover()
 * removes anything with a suffix.
 */
export class TemplateStore {
  constructor(readonly root: string) {}

  dir(templateId: string): string {
    return join(this.root, templateId);
  }

  /** The directory sandboxes mount as their template layer. */
  layer(templateId: string): string {
    return join(this.dir(templateId), 'layer');
  }

  /** The read-only stack a sandbox from this template mounts, top first. */
  stack(meta: TemplateMeta): string[] {
    return [this.layer(meta.templateId), ...meta.lower];
  }

  read(templateId: string): Promise<TemplateMeta | undefined> {
    return readJson<TemplateMeta>(join(this.dir(templateId), META));
  }

  /**
   * Copies `upper` (an overlay upper dir) as the template's layer, keeping what makes it a layer:
   * whiteouts (0:0 character devices), opaque-directory xattrs, owners, modes, links, times.
   * The caller keeps the source still (frozen) during the copy.
   */
  async copyLayer(templateId: string, upper: string): Promise<string> {
    const partial = join(this.root, `${templateId}${PARTIAL}`);
    await rm(partial, { recursive: true, force: true });
    // Root-only: a layer keeps the sandbox's setuid binaries and owners as they were inside.
    await mkdir(partial, { recursive: true, mode: 0o700 });
    try {
      await copyTree(upper, join(partial, 'layer'));
      return partial;
    } catch (error) {
      await rm(partial, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** Makes a copied template complete (meta written, renamed into place). */
  async commit(partial: string, meta: TemplateMeta): Promise<void> {
    try {
      await writeJson(join(partial, META), meta);
      await rename(partial, this.dir(meta.templateId));
    } catch (error) {
      await rm(partial, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** Removes a template's files; absent is success. */
  async remove(templateId: string): Promise<void> {
    const doomed = join(this.root, `${templateId}${DELETING}`);
    if (existsSync(this.dir(templateId))) await rename(this.dir(templateId), doomed);
    await rm(doomed, { recursive: true, force: true });
    await rm(join(this.root, `${templateId}${PARTIAL}`), { recursive: true, force: true });
  }

  /**
   * After a restart: the complete templates (returned), with half-copied, half-deleted and
   * meta-less ones removed (returned as removed).
   */
  async recover(): Promise<{ templates: TemplateMeta[]; removed: string[] }> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const templates: TemplateMeta[] = [];
    const removed: string[] = [];
    for (const name of (await readdir(this.root)).sort()) {
      const id = name.replace(/\.(partial|deleting)$/, '');
      if (!isTemplateId(id)) continue; // not ours: never delete what we did not name
      const meta = id === name ? await this.read(id) : undefined;
      if (meta && existsSync(this.layer(id))) {
        templates.push(meta);
        continue;
      }
      await rm(join(this.root, name), { recursive: true, force: true });
      removed.push(name);
    }
    return { templates, removed };
  }
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

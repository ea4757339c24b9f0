import { create } from '@bufbuild/protobuf';
import { filesystemPb } from '@wrenn/proto';
import { existsSync, FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { join, relative } from 'node:path';
import { entryInfo } from './entry-info';

const { EventType, FilesystemEventSchema } = filesystemPb;

/**
 * Watches a directory (and, when recursive, every directory below it — Node 20 cannot watch
 * recursively on Linux, so each directory gets its own inotify watch, added as they appear).
 * Event names are relative to the watched root, as E2B's envd reports them.
 */
export class DirWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly recursive: boolean,
    private readonly includeEntry: boolean,
    private readonly onEvent: (event: filesystemPb.FilesystemEvent) => void,
  ) {
    this.add(root);
  }

  private add(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (kind, filename) => filename && void this.handle(dir, kind, filename.toString()));
    } catch {
      return; // vanished, or not a directory
    }
    watcher.on('error', () => this.watchers.delete(dir));
    this.watchers.set(dir, watcher);
    if (!this.recursive) return;
    for (const entry of safeReaddir(dir)) {
      if (entry.isDirectory()) this.add(join(dir, entry.name));
    }
  }

  private async handle(dir: string, kind: string, filename: string): Promise<void> {
    const path = join(dir, filename);
    const exists = existsSync(path);
    // inotify's "rename" covers create, delete and move; "change" is a write.
    const type = kind === 'change' ? EventType.WRITE : exists ? EventType.CREATE : EventType.REMOVE;
    if (exists && this.recursive && type === EventType.CREATE && isDir(path)) this.add(path);
    if (!exists) {
      this.watchers.get(path)?.close();
      this.watchers.delete(path);
    }
    const entry = this.includeEntry && exists ? await entryInfo(path).catch(() => undefined) : undefined;
    if (!this.closed) this.onEvent(create(FilesystemEventSchema, { name: relative(this.root, path), type, entry }));
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

function safeReaddir(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

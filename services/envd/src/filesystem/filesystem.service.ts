import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { filesystemPb } from '@wrenn/proto';
import { randomUUID } from 'node:crypto';
import { chown, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AsyncQueue } from '../async-queue';
import { resolvePath } from '../paths';
import { SandboxUser, userFromHeaders } from '../users';
import { entryInfo } from './entry-info';
import { DirWatcher } from './watcher';

const { Filesystem, WatchDirResponseSchema } = filesystemPb;

/** Node's errno → the Connect code E2B's SDK turns into its typed errors. */
export function fsError(error: unknown, path: string): ConnectError {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return new ConnectError(`${path}: no such file or directory`, Code.NotFound);
    case 'EEXIST': return new ConnectError(`${path}: already exists`, Code.AlreadyExists);
    case 'EACCES': case 'EPERM': return new ConnectError(`${path}: permission denied`, Code.PermissionDenied);
    case 'ENOTDIR': case 'EISDIR': case 'EINVAL': case 'ENOTEMPTY': return new ConnectError(`${path}: ${(error as Error).message}`, Code.InvalidArgument);
    case 'ENOSPC': case 'EDQUOT': return new ConnectError(`${path}: no space left`, Code.ResourceExhausted);
    default: return error instanceof ConnectError ? error : new ConnectError(`${path}: ${(error as Error).message}`, Code.Internal);
  }
}

/** Creates missing directories and gives the new ones to the acting user. */
export async function makeDirs(path: string, user: SandboxUser): Promise<void> {
  const missing: string[] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      await lstat(dir);
      break;
    } catch {
      missing.push(dir);
      if (dir === '/') break;
    }
  }
  await mkdir(path, { recursive: true });
  for (const dir of missing) await chown(dir, user.uid, user.gid).catch(() => undefined);
}

async function list(dir: string, depth: number, out: filesystemPb.EntryInfo[]): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const info = await entryInfo(join(dir, name)).catch(() => undefined);
    if (!info) continue;
    out.push(info);
    if (depth > 1 && info.type === filesystemPb.FileType.DIRECTORY) await list(join(dir, name), depth - 1, out);
  }
}

export function filesystemService(): ServiceImpl<typeof Filesystem> {
  const watchers = new Map<string, { watcher: DirWatcher; events: filesystemPb.FilesystemEvent[] }>();
  const withUser = <T>(ctx: HandlerContext, path: string, fn: (p: string, u: SandboxUser) => Promise<T>) => {
    const user = userFromHeaders(ctx.requestHeader);
    const resolved = resolvePath(path, user);
    return fn(resolved, user).catch((error) => {
      throw fsError(error, resolved);
    });
  };
  return {
    stat: (req, ctx) => withUser(ctx, req.path, async (p) => ({ entry: await entryInfo(p) })),

    makeDir: (req, ctx) =>
      withUser(ctx, req.path, async (p, user) => {
        const existing = await stat(p).catch(() => undefined);
        if (existing?.isDirectory()) throw new ConnectError(`directory already exists: ${p}`, Code.AlreadyExists);
        if (existing) throw new ConnectError(`path already exists but it is not a directory: ${p}`, Code.InvalidArgument);
        await makeDirs(p, user);
        return { entry: await entryInfo(p) };
      }),

    move: (req, ctx) =>
      withUser(ctx, req.source, async (source, user) => {
        const destination = resolvePath(req.destination, user);
        await makeDirs(dirname(destination), user);
        await rename(source, destination);
        return { entry: await entryInfo(destination) };
      }),

    listDir: (req, ctx) =>
      withUser(ctx, req.path, async (p) => {
        const entries: filesystemPb.EntryInfo[] = [];
        // The listed directory itself may be a symlink (followed); entries below are not.
        if (!(await stat(p)).isDirectory()) throw new ConnectError(`path is not a directory: ${p}`, Code.InvalidArgument);
        await list(p, Math.max(1, req.depth || 1), entries);
        return { entries };
      }),

    // Like `rm -rf` (and E2B's envd): removing what is not there succeeds.
    remove: (req, ctx) =>
      withUser(ctx, req.path, async (p) => {
        await rm(p, { recursive: true, force: true });
        return {};
      }),

    async *watchDir(req, ctx) {
      const user = userFromHeaders(ctx.requestHeader);
      const root = resolvePath(req.path, user);
      if (!(await stat(root).catch((e) => { throw fsError(e, root); })).isDirectory()) {
        throw new ConnectError(`${root}: not a directory`, Code.InvalidArgument);
      }
      const queue = new AsyncQueue<filesystemPb.WatchDirResponse>();
      const watcher = new DirWatcher(root, req.recursive, req.includeEntry, (event) =>
        queue.push(create(WatchDirResponseSchema, { event: { case: 'filesystem', value: event } })),
      );
      const interval = Number(ctx.requestHeader.get('keepalive-ping-interval'));
      const timer = interval > 0 ? setInterval(() => queue.push(create(WatchDirResponseSchema, { event: { case: 'keepalive', value: {} } })), interval * 1000) : undefined;
      ctx.signal.addEventListener('abort', () => queue.close());
      try {
        yield create(WatchDirResponseSchema, { event: { case: 'start', value: {} } });
        yield* queue;
      } finally {
        if (timer) clearInterval(timer);
        watcher.close();
      }
    },

    createWatcher: (req, ctx) =>
      withUser(ctx, req.path, async (root) => {
        if (!(await stat(root)).isDirectory()) throw new ConnectError(`${root}: not a directory`, Code.InvalidArgument);
        const id = randomUUID();
        const state = { events: [] as filesystemPb.FilesystemEvent[], watcher: undefined as unknown as DirWatcher };
        state.watcher = new DirWatcher(root, req.recursive, req.includeEntry, (event) => state.events.push(event));
        watchers.set(id, state);
        return { watcherId: id };
      }),

    async getWatcherEvents(req) {
      const state = watchers.get(req.watcherId);
      if (!state) throw new ConnectError(`watcher ${req.watcherId} not found`, Code.NotFound);
      return { events: state.events.splice(0) };
    },

    async removeWatcher(req) {
      const state = watchers.get(req.watcherId);
      if (!state) throw new ConnectError(`watcher ${req.watcherId} not found`, Code.NotFound);
      state.watcher.close();
      watchers.delete(req.watcherId);
      return {};
    },
  };
}

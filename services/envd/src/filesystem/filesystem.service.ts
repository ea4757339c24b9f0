import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { filesystemPb } from '@wrenn/proto';
import { randomUUID } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { AsyncQueue } from '../async-queue';
import { resolvePath } from '../paths';
import type { SandboxSystem, SystemWatch, SystemWatchEvent } from '../system/sandbox-system';
import { SandboxUser, Users } from '../users';
import { entryInfo, isDirectoryEntry } from './entry-info';

const { EventType, Filesystem, FilesystemEventSchema, WatchDirResponseSchema } = filesystemPb;

/** The errno of a failure (Node's or a SandboxSystem's) → the Connect code E2B's SDK turns into its typed errors. */
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

const EVENT_TYPES: Record<SystemWatchEvent['kind'], filesystemPb.EventType> = {
  create: EventType.CREATE,
  write: EventType.WRITE,
  remove: EventType.REMOVE,
  rename: EventType.RENAME,
  chmod: EventType.CHMOD,
};

/** A filesystem service and what it holds open (watchers, which keep an envd instance busy). */
export interface FilesystemService {
  impl: ServiceImpl<typeof Filesystem>;
  /** Watchers open now (streams and polled ones). */
  readonly watching: number;
  /** Closes every watcher. */
  close(): Promise<void>;
}

export function filesystemService(system: SandboxSystem, users: Users): FilesystemService {
  const watchers = new Map<string, { watch: SystemWatch; events: filesystemPb.FilesystemEvent[] }>();
  let streams = 0;
  const open = new Set<SystemWatch>();
  const info = (path: string, user: SandboxUser) => entryInfo(system, users, path, user);
  const withUser = async <T>(ctx: HandlerContext, path: string, fn: (p: string, u: SandboxUser) => Promise<T>) => {
    const user = await users.fromHeaders(ctx.requestHeader);
    const resolved = resolvePath(path, user);
    return fn(resolved, user).catch((error) => {
      throw fsError(error, resolved);
    });
  };
  const isDirectory = async (path: string, user: SandboxUser) => isDirectoryEntry(await system.entry(path, user));
  const list = async (dir: string, depth: number, user: SandboxUser, out: filesystemPb.EntryInfo[]): Promise<void> => {
    const names = (await system.readdir(dir, user)).sort();
    const infos = await Promise.all(names.map((name) => info(join(dir, name), user).catch(() => undefined)));
    for (const [i, entry] of infos.entries()) {
      if (!entry) continue;
      out.push(entry);
      if (depth > 1 && entry.type === filesystemPb.FileType.DIRECTORY) await list(join(dir, names[i]), depth - 1, user, out);
    }
  };
  /** Starts a watch whose events become E2B's FilesystemEvents (names relative to the watched root). */
  const startWatch = async (root: string, recursive: boolean, includeEntry: boolean, user: SandboxUser, onEvent: (e: filesystemPb.FilesystemEvent) => void) => {
    let closed = false;
    const watch = await system.watch(root, recursive, user, (event) => {
      void (async () => {
        const type = EVENT_TYPES[event.kind];
        const entry = includeEntry && type !== EventType.REMOVE ? await info(event.path, user).catch(() => undefined) : undefined;
        if (!closed) onEvent(create(FilesystemEventSchema, { name: relative(root, event.path), type, entry }));
      })();
    });
    open.add(watch);
    return {
      close: async () => {
        closed = true;
        open.delete(watch);
        await watch.close();
      },
    };
  };
  const impl: ServiceImpl<typeof Filesystem> = {
    stat: (req, ctx) => withUser(ctx, req.path, async (p, user) => ({ entry: await info(p, user) })),

    makeDir: (req, ctx) =>
      withUser(ctx, req.path, async (p, user) => {
        const existing = await system.entry(p, user).catch(() => undefined);
        if (existing && isDirectoryEntry(existing)) throw new ConnectError(`directory already exists: ${p}`, Code.AlreadyExists);
        if (existing) throw new ConnectError(`path already exists but it is not a directory: ${p}`, Code.InvalidArgument);
        await system.mkdirs(p, user);
        return { entry: await info(p, user) };
      }),

    move: (req, ctx) =>
      withUser(ctx, req.source, async (source, user) => {
        const destination = resolvePath(req.destination, user);
        await system.mkdirs(dirname(destination), user);
        await system.rename(source, destination, user);
        return { entry: await info(destination, user) };
      }),

    listDir: (req, ctx) =>
      withUser(ctx, req.path, async (p, user) => {
        const entries: filesystemPb.EntryInfo[] = [];
        // The listed directory itself may be a symlink (followed); entries below are not.
        if (!(await isDirectory(p, user))) throw new ConnectError(`path is not a directory: ${p}`, Code.InvalidArgument);
        await list(p, Math.max(1, req.depth || 1), user, entries);
        return { entries };
      }),

    // Like `rm -rf` (and E2B's envd): removing what is not there succeeds.
    remove: (req, ctx) =>
      withUser(ctx, req.path, async (p, user) => {
        await system.remove(p, user);
        return {};
      }),

    async *watchDir(req, ctx) {
      const user = await users.fromHeaders(ctx.requestHeader);
      const root = resolvePath(req.path, user);
      if (!(await isDirectory(root, user).catch((e) => { throw fsError(e, root); }))) {
        throw new ConnectError(`${root}: not a directory`, Code.InvalidArgument);
      }
      const queue = new AsyncQueue<filesystemPb.WatchDirResponse>();
      const watch = await startWatch(root, req.recursive, req.includeEntry, user, (event) =>
        queue.push(create(WatchDirResponseSchema, { event: { case: 'filesystem', value: event } })),
      ).catch((e) => { throw fsError(e, root); });
      streams++;
      const interval = Number(ctx.requestHeader.get('keepalive-ping-interval'));
      const timer = interval > 0 ? setInterval(() => queue.push(create(WatchDirResponseSchema, { event: { case: 'keepalive', value: {} } })), interval * 1000) : undefined;
      ctx.signal.addEventListener('abort', () => queue.close());
      try {
        yield create(WatchDirResponseSchema, { event: { case: 'start', value: {} } });
        yield* queue;
      } finally {
        streams--;
        if (timer) clearInterval(timer);
        await watch.close();
      }
    },

    createWatcher: (req, ctx) =>
      withUser(ctx, req.path, async (root, user) => {
        if (!(await isDirectory(root, user))) throw new ConnectError(`${root}: not a directory`, Code.InvalidArgument);
        const id = randomUUID();
        const events: filesystemPb.FilesystemEvent[] = [];
        const watch = await startWatch(root, req.recursive, req.includeEntry, user, (event) => events.push(event));
        watchers.set(id, { watch, events });
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
      await state.watch.close();
      watchers.delete(req.watcherId);
      return {};
    },
  };
  return {
    impl,
    get watching() {
      return streams + watchers.size;
    },
    close: async () => {
      await Promise.all([...open].map((w) => w.close().catch(() => undefined)));
      watchers.clear();
    },
  };
}

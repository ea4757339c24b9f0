import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, FSWatcher, readdirSync, readFileSync, readlinkSync, Stats, statSync, watch } from 'node:fs';
import { chown, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { AccountFiles, SandboxSystem, SpawnRequest, SystemEntry, SystemEntryType, SystemProcess, SystemUser, SystemWatch, SystemWatchEvent } from './sandbox-system';
import { SystemError } from './sandbox-system';

/** Bound in by the host agent: writing a pid to the files here moves it into the sandbox's limited groups. */
const USER_CGROUPS = '/run/wrenn/cgroup';

/** Node's errno errors as SystemError (same code), anything else unchanged. */
function asSystemError(error: unknown): unknown {
  const e = error as NodeJS.ErrnoException;
  if (error instanceof SystemError || typeof e?.code !== 'string') return error;
  return new SystemError(e.code, e.message, e.path);
}

async function sys<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asSystemError(error);
  }
}

function typeOf(st: Stats): SystemEntryType {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  return 'other';
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * envd inside the sandbox (a Firecracker guest, or a test on the host): Node's fs and
 * child_process on the machine envd runs on. envd runs as root here; it acts for `user` by
 * giving what it creates to that user and by dropping to it (setpriv) for the processes it
 * starts. File permissions are those of root, as envd always had them inside a guest.
 */
export class LocalSystem implements SandboxSystem {
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly files: { passwd: string; group: string } = { passwd: '/etc/passwd', group: '/etc/group' }) {}

  async readAccountFiles(): Promise<AccountFiles> {
    const [passwd, group] = await Promise.all([readFile(this.files.passwd, 'utf8').catch(() => ''), readFile(this.files.group, 'utf8').catch(() => '')]);
    return { passwd, group };
  }

  entry(path: string): Promise<SystemEntry> {
    return sys(async () => {
      const l = await lstat(path);
      const type = typeOf(l);
      if (type !== 'symlink') return { type, size: l.size, mode: l.mode, uid: l.uid, gid: l.gid, mtimeMs: l.mtimeMs };
      // A symlink reports what it points at (size, mode) plus its target, like E2B's envd.
      const target = await stat(path).catch(() => undefined);
      const st = target ?? l;
      return { type, size: st.size, mode: st.mode, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, symlinkTarget: await readlink(path), targetIsDirectory: target?.isDirectory() ?? false };
    });
  }

  readdir(path: string): Promise<string[]> {
    return sys(() => readdir(path));
  }

  /** Creates missing directories and gives the new ones to the acting user. */
  mkdirs(path: string, user: SystemUser): Promise<string[]> {
    return sys(async () => {
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
      return missing.reverse();
    });
  }

  rename(from: string, to: string): Promise<void> {
    return sys(() => rename(from, to));
  }

  remove(path: string): Promise<void> {
    return sys(() => rm(path, { recursive: true, force: true }));
  }

  openRead(path: string): Promise<{ stream: Readable; size: number }> {
    return sys(async () => {
      const st = await stat(path);
      if (st.isDirectory()) throw new SystemError('EISDIR', `${path} is a directory`, path);
      const stream = createReadStream(path);
      // Opened before answering, so an unreadable file is an error here and not mid-stream.
      await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject));
      return { stream, size: st.size };
    });
  }

  async openWrite(path: string, user: SystemUser, mode: number) {
    const temp = `${dirname(path)}/.${basename(path)}.wrenn-upload-${process.pid}-${randomBytes(6).toString('hex')}`;
    const stream = createWriteStream(temp, { mode });
    await sys(() => new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject)));
    return {
      stream,
      commit: () =>
        sys(async () => {
          await chown(temp, user.uid, user.gid);
          await rename(temp, path);
        }),
      abort: async () => {
        stream.destroy();
        await rm(temp, { force: true });
      },
    };
  }

  async watch(path: string, recursive: boolean, _user: SystemUser, onEvent: (event: SystemWatchEvent) => void): Promise<SystemWatch> {
    const watcher = new DirWatcher(path, recursive, onEvent);
    return { close: async () => watcher.close() };
  }

  async spawn(request: SpawnRequest): Promise<SystemProcess> {
    const { user, pty } = request;
    let file = request.argv[0];
    let args = request.argv.slice(1);
    if (pty) {
      // A pseudo-terminal without a native module: util-linux `script` owns the PTY and relays
      // our pipes to it; the initial size is set on the terminal before the command runs.
      const inner = `stty cols ${pty.cols || 80} rows ${pty.rows || 24} 2>/dev/null; exec ${request.argv.map(shellQuote).join(' ')}`;
      file = 'script';
      args = ['-qfec', inner, '/dev/null'];
    }
    if (existsSync(USER_CGROUPS)) {
      // Into the sandbox's limited groups (memory, pids) before the command runs, so its
      // children are born there too; envd itself stays outside those limits.
      args = ['-c', 'for f in /run/wrenn/cgroup/*.procs; do echo $$ > "$f"; done 2>/dev/null; echo 0 > /proc/self/oom_score_adj 2>/dev/null; exec "$0" "$@"', file, ...args];
      file = '/bin/sh';
      if (user.uid !== 0) {
        args = ['-c', args[1], 'setpriv', '--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', '--', ...args.slice(2)];
      }
    } else if (user.uid !== 0) {
      // Drop to the user with its own supplementary groups (Node's uid/gid options keep root's).
      args = ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', '--', file, ...args];
      file = 'setpriv';
    }
    const child = spawn(file, args, {
      cwd: request.cwd,
      env: request.env,
      detached: true, // own process group, so a signal reaches the command's children
      stdio: [request.stdin || pty ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      // Not started (no such file, not executable, bad cwd): Node reports why on the next tick.
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw asSystemError(error);
    }
    child.on('error', () => undefined);
    this.children.add(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        this.children.delete(child);
        resolve({ code, signal });
      }),
    );
    child.stdin?.on('error', () => undefined); // writing to a process that exited is not envd's failure
    const pid = child.pid;
    // With a PTY, `script`'s own stderr joins the terminal's output, as one stream.
    let stdout: Readable = child.stdout!;
    if (pty) {
      const merged = new PassThrough();
      let open = 2;
      for (const s of [child.stdout!, child.stderr!]) {
        s.pipe(merged, { end: false });
        s.once('close', () => --open === 0 && merged.end());
      }
      stdout = merged;
    }
    return {
      pid,
      stdin: child.stdin ?? undefined,
      stdout,
      stderr: pty ? undefined : child.stderr!,
      exited,
      signal: (signal) => signalGroup(pid, signal),
      resize: (cols, rows) => {
        if (!pty) throw new SystemError('ENOTTY', 'the process has no PTY');
        const tty = ptyDevice(pid);
        if (!tty) throw new SystemError('EAGAIN', 'the PTY is not ready');
        spawnSync('stty', ['-F', tty, 'cols', String(cols), 'rows', String(rows)]);
      },
    };
  }

  async close(): Promise<void> {
    for (const child of this.children) if (child.pid) signalGroup(child.pid, 'SIGKILL');
  }
}

/** Signals the whole process group: a shell's children go with it. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** The terminal of a `script`-run command: `script` holds the master; its child has the slave as stdin. */
function ptyDevice(pid: number): string | undefined {
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const child of children) {
      try {
        const target = readlinkSync(`/proc/${child}/fd/0`);
        if (target.startsWith('/dev/pts/')) return target;
      } catch {
        /* raced with its exit */
      }
    }
  }
  return undefined;
}

/**
 * Watches a directory (and, when recursive, every directory below it — Node 20 cannot watch
 * recursively on Linux, so each directory gets its own inotify watch, added as they appear).
 */
class DirWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    root: string,
    private readonly recursive: boolean,
    private readonly onEvent: (event: SystemWatchEvent) => void,
  ) {
    this.add(root);
  }

  private add(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (kind, filename) => filename && this.handle(dir, kind, filename.toString()));
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

  private handle(dir: string, kind: string, filename: string): void {
    const path = join(dir, filename);
    const exists = existsSync(path);
    // inotify's "rename" covers create, delete and move; "change" is a write.
    const type = kind === 'change' ? 'write' : exists ? 'create' : 'remove';
    if (exists && this.recursive && type === 'create' && isDir(path)) this.add(path);
    if (!exists) {
      this.watchers.get(path)?.close();
      this.watchers.delete(path);
    }
    if (!this.closed) this.onEvent({ kind: type, path });
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

import { BigIntStats, closeSync, createReadStream, createWriteStream, fstatSync, readSync, Stats } from 'node:fs';
import { Socket } from 'node:net';
import { posix } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ReadStream } from 'node:tty';
import { constants } from 'node:os';
import {
  AccountFiles,
  SandboxSystem,
  SpawnRequest,
  SystemEntry,
  SystemEntryType,
  SystemError,
  SystemProcess,
  SystemUser,
  SystemWatch,
  SystemWatchEvent,
} from '../sandbox-system';
import { channelAddon, closeFds, ExitListener, InitChannel, InitChannelOptions } from './init-channel';
import { parseWatchRecords, watchKind } from './init-protocol';

const ROOT: SystemUser = { name: 'root', uid: 0, gid: 0, groups: [], home: '/root', shell: '/bin/sh' };
/** /etc/passwd or /etc/group larger than this is not an account file. */
const MAX_ACCOUNT_FILE = 4 * 1024 * 1024;

/**
 * Account files changed less than this long before they were read are not stamped: a write in the
 * same tick of the kernel's coarse clock could leave size and times as they were ("racy git").
 */
const RACY_MS = 2000;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * SandboxSystem for envd running on the host, outside the sandbox: every operation is a request
 * to the sandbox's init (PID 1, native/sandbox/init-agent.c) over its Unix socket. The init does
 * it in a child that has taken the user's ids, inside the sandbox's namespaces, and hands back
 * descriptors this class streams from. Each fd that comes back is checked to be of the type the
 * operation promises; anything else is closed and the call fails.
 */
export class InitSystem implements SandboxSystem {
  private readonly channel: InitChannel;
  private readonly processes = new Set<number>();
  private readonly watches = new Set<SystemWatch>();
  /** False once the init answered spawnIf as unknown: its users are then read for every spawn. */
  private spawnIfKnown: boolean | undefined;

  constructor(socketPath: string, options: InitChannelOptions = {}) {
    this.channel = new InitChannel(socketPath, options);
  }

  /**
   * Both files, through the init as root, with their stamp: the identity (device, inode, size,
   * modification and change times) of the very files read, taken from the fds they came through.
   * A spawn that carries it (spawnIf) is refused with ESTALE by the init unless both files still
   * have that identity, so a user resolved from this copy is never used once they changed.
   */
  async readAccountFiles(): Promise<AccountFiles> {
    const [passwd, group] = await Promise.all(['/etc/passwd', '/etc/group'].map((file) => this.readSmall(file, ROOT)));
    const stamp = this.spawnIfKnown === false ? undefined : accountsStamp([passwd.stat, group.stat]);
    return { passwd: passwd.text, group: group.text, stamp };
  }

  async entry(path: string, user: SystemUser): Promise<SystemEntry> {
    const { strings } = await this.channel.request('entry', [...userArgs(user), absolute(path)]);
    if (strings.length !== 5 && strings.length !== 6 && strings.length !== 11) throw protocolError('entry');
    const own = stat5(strings.slice(0, 5));
    const type = typeOf(own.mode);
    if (type !== 'symlink') {
      if (strings.length !== 5) throw protocolError('entry');
      return { type, ...own };
    }
    if (strings.length === 5) throw protocolError('entry');
    const symlinkTarget = strings[5];
    if (strings.length === 6) return { type, ...own, symlinkTarget };
    const target = stat5(strings.slice(6, 11));
    return { type, ...target, symlinkTarget, targetIsDirectory: (target.mode & S_IFMT) === S_IFDIR };
  }

  async readdir(path: string, user: SystemUser): Promise<string[]> {
    const { strings } = await this.channel.request('readdir', [...userArgs(user), absolute(path)]);
    for (const name of strings) if (!name || name.includes('/') || name === '.' || name === '..') throw protocolError('readdir');
    return strings;
  }

  async mkdirs(path: string, user: SystemUser): Promise<string[]> {
    const target = absolute(path);
    const { strings } = await this.channel.request('mkdirs', [...userArgs(user), target]);
    for (const dir of strings) if (!dir.startsWith('/') || !(target === dir || target.startsWith(`${dir}/`))) throw protocolError('mkdirs');
    return strings;
  }

  async rename(from: string, to: string, user: SystemUser): Promise<void> {
    await this.channel.request('rename', [...userArgs(user), absolute(from), absolute(to)]);
  }

  async remove(path: string, user: SystemUser): Promise<void> {
    await this.channel.request('remove', [...userArgs(user), absolute(path)]);
  }

  async openRead(path: string, user: SystemUser): Promise<{ stream: Readable; size: number }> {
    const { fd, strings } = await this.oneFd('openRead', [...userArgs(user), absolute(path)], (s) => s.isFile());
    const size = Number(strings[0]);
    if (strings.length !== 1 || !Number.isSafeInteger(size) || size < 0) {
      closeFds([fd]);
      throw protocolError('openRead');
    }
    return { stream: createReadStream('', { fd, autoClose: true }), size };
  }

  async openWrite(path: string, user: SystemUser, mode: number): Promise<{ stream: Writable; commit(): Promise<void>; abort(): Promise<void> }> {
    const target = absolute(path);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new SystemError('EINVAL', `mode ${mode} out of range`, path);
    const { fd, strings } = await this.oneFd('openWrite', [...userArgs(user), target, String(mode)], (s) => s.isFile());
    const temp = strings[0];
    // The temp file must be the init's own, beside the target: never a path it could make us rename elsewhere.
    if (strings.length !== 1 || posix.dirname(temp) !== posix.dirname(target) || !posix.basename(temp).startsWith('.') || !temp.includes('.wrenn-')) {
      closeFds([fd]);
      throw protocolError('openWrite');
    }
    const stream = createWriteStream('', { fd, autoClose: true });
    let done = false;
    const settle = async () => {
      if (!stream.writableFinished && !stream.destroyed) stream.end();
      await finished(stream).catch(() => undefined);
    };
    return {
      stream,
      commit: async () => {
        if (done) throw new SystemError('EINVAL', 'the write was already committed or aborted', path);
        done = true;
        if (stream.errored) {
          await this.remove(temp, user).catch(() => undefined);
          throw stream.errored;
        }
        await settle();
        try {
          await this.rename(temp, target, user);
        } catch (error) {
          await this.remove(temp, user).catch(() => undefined);
          throw error;
        }
      },
      abort: async () => {
        if (done) return;
        done = true;
        stream.destroy();
        await finished(stream).catch(() => undefined);
        await this.remove(temp, user);
      },
    };
  }

  async watch(path: string, recursive: boolean, user: SystemUser, onEvent: (event: SystemWatchEvent) => void): Promise<SystemWatch> {
    const { fd } = await this.oneFd('watch', [...userArgs(user), absolute(path), recursive ? '1' : '0'], (s) => s.isFIFO());
    const pipe = new Socket({ fd, readable: true, writable: false });
    let pending: Buffer = Buffer.alloc(0);
    pipe.on('data', (chunk: Buffer) => {
      try {
        const { records, rest } = parseWatchRecords(pending.length ? Buffer.concat([pending, chunk]) : chunk);
        pending = Buffer.from(rest);
        for (const r of records) {
          const kind = watchKind(r.mask);
          if (kind) onEvent({ kind, path: r.path });
        }
      } catch {
        pipe.destroy(); // a watcher that breaks the format is not listened to
      }
    });
    pipe.on('error', () => undefined);
    const watch: SystemWatch = {
      close: async () => {
        this.watches.delete(watch);
        if (pipe.destroyed) return;
        const closed = new Promise<void>((done) => pipe.once('close', () => done()));
        pipe.destroy();
        await closed;
      },
    };
    this.watches.add(watch);
    return watch;
  }

  async spawn(request: SpawnRequest): Promise<SystemProcess> {
    if (!request.argv.length || !request.argv[0]) throw new SystemError('EINVAL', 'no command');
    for (const key of Object.keys(request.env)) if (!key || key.includes('=')) throw new SystemError('EINVAL', `bad environment name ${JSON.stringify(key)}`);
    const pty = request.pty;
    if (pty && (!isSize(pty.cols) || !isSize(pty.rows))) throw new SystemError('EINVAL', 'terminal size out of range');
    let resolveExit!: (end: { code: number | null; signal: NodeJS.Signals | null }) => void;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => (resolveExit = done));
    let pid = 0;
    const onExit: ExitListener = (end) => {
      this.processes.delete(pid);
      resolveExit(end);
    };
    const args = [
      ...userArgs(request.user),
      absolute(request.cwd),
      pty ? `${pty.cols} ${pty.rows}` : '',
      request.stdin && !pty ? '1' : '0',
      String(request.argv.length),
      ...request.argv,
      ...Object.entries(request.env).map(([k, v]) => `${k}=${v}`),
    ];
    // With the user's stamp the init checks the account files are still the ones it was resolved from.
    const stamp = request.user.accountsStamp;
    let reply;
    try {
      reply = stamp ? await this.channel.request('spawnIf', [stamp, ...args], onExit) : await this.channel.request('spawn', args, onExit);
    } catch (error) {
      // An init from before spawnIf (a sandbox started by an older agent): no stamps for it.
      if (stamp && error instanceof SystemError && error.code === 'ENOSYS') {
        this.spawnIfKnown = false;
        throw new SystemError('ESTALE', 'this init checks no account stamps');
      }
      throw error;
    }
    pid = reply.value;
    const want = pty ? 1 : request.stdin ? 3 : 2;
    const types = reply.fds.map((fd) => fstatOf(fd));
    const ok = Number.isInteger(pid) && pid > 1 && reply.fds.length === want && types.every((s) => (pty ? s?.isCharacterDevice() : s?.isFIFO()));
    if (!ok) {
      closeFds(reply.fds);
      if (pid > 1) void this.channel.request('signal', [String(pid), String(constants.signals.SIGKILL)]).catch(() => undefined);
      throw protocolError('spawn');
    }
    this.processes.add(pid);
    const signal = (name: NodeJS.Signals) => {
      const number = constants.signals[name];
      if (number === undefined) throw new SystemError('EINVAL', `unknown signal ${name}`);
      // Fire and forget, as process.kill is: a process that already ended is not an error here.
      void this.channel.request('signal', [String(pid), String(number)]).catch(() => undefined);
    };
    if (pty) {
      const master = reply.fds[0];
      // One duplex over the master: the terminal's output, and its input.
      const terminal = new ReadStream(master, { writable: true } as never) as ReadStream & Writable;
      // EIO is how a master reads once every slave fd is closed: the end of output, not a failure.
      terminal.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EIO') terminal.push(null);
      });
      return {
        pid,
        stdin: terminal,
        stdout: terminal,
        resize: (cols, rows) => {
          if (!isSize(cols) || !isSize(rows)) throw new SystemError('EINVAL', 'terminal size out of range');
          channelAddon().setWindowSize(master, cols, rows);
        },
        signal,
        exited,
      };
    }
    const [stdinFd, stdoutFd, stderrFd] = request.stdin ? reply.fds : [undefined, ...reply.fds];
    const stdin = stdinFd === undefined ? undefined : new Socket({ fd: stdinFd, readable: false, writable: true });
    stdin?.on('error', () => undefined); // writing to a process that exited is not envd's failure
    return {
      pid,
      stdin,
      stdout: new Socket({ fd: stdoutFd!, readable: true, writable: false }),
      stderr: new Socket({ fd: stderrFd!, readable: true, writable: false }),
      resize: () => {
        throw new SystemError('ENOTTY', 'the process has no terminal');
      },
      signal,
      exited,
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.watches].map((w) => w.close()));
    const kills = [...this.processes].map((pid) => this.channel.request('signal', [String(pid), String(constants.signals.SIGKILL)]).catch(() => undefined));
    await Promise.all(kills);
    this.channel.close();
  }

  /** Requests one fd of a checked type; closes everything on any mismatch. */
  private async oneFd(op: 'openRead' | 'openWrite' | 'watch', args: string[], isType: (s: Stats) => boolean): Promise<{ fd: number; strings: string[] }> {
    const reply = await this.channel.request(op, args);
    const stat = reply.fds.length === 1 ? fstatOf(reply.fds[0]) : undefined;
    if (!stat || !isType(stat)) {
      closeFds(reply.fds);
      throw protocolError(op);
    }
    return { fd: reply.fds[0], strings: reply.strings };
  }

  private async readSmall(path: string, user: SystemUser): Promise<{ text: string; stat: BigIntStats }> {
    const { fd } = await this.oneFd('openRead', [...userArgs(user), path], (s) => s.isFile());
    try {
      const stat = fstatSync(fd, { bigint: true });
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(65536);
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        total += n;
        if (total > MAX_ACCOUNT_FILE) throw new SystemError('EFBIG', `${path} is larger than an account file may be`, path);
        chunks.push(chunk.subarray(0, n));
      }
      return { text: Buffer.concat(chunks).toString('utf8'), stat };
    } finally {
      closeSync(fd);
    }
  }
}

/** The files' identity as the init's accounts_stamp() writes it; undefined while either is racy (see RACY_MS). */
export function accountsStamp(stats: BigIntStats[], now = Date.now()): string | undefined {
  const racySince = BigInt(now - RACY_MS) * 1_000_000n;
  if (stats.some((s) => s.mtimeNs > racySince || s.ctimeNs > racySince)) return undefined;
  return stats.map((s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}|`).join('');
}

function userArgs(user: SystemUser): string[] {
  const ids = [user.uid, user.gid, ...user.groups];
  if (!ids.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff)) throw new SystemError('EINVAL', `bad ids for user ${user.name}`);
  if (user.groups.length > 64) throw new SystemError('EINVAL', `user ${user.name} is in more than 64 groups`);
  return [String(user.uid), String(user.gid), user.groups.join(',')];
}

function absolute(path: string): string {
  if (!path.startsWith('/')) throw new SystemError('EINVAL', `path ${path} is not absolute`, path);
  if (path.includes('\0')) throw new SystemError('EINVAL', 'path holds a NUL byte', path);
  return path;
}

function stat5(fields: string[]): Omit<SystemEntry, 'type'> {
  const [mode, uid, gid, size, mtimeMs] = fields.map(Number);
  if (![mode, uid, gid, size, mtimeMs].every((n) => Number.isSafeInteger(n)) || mode < 0 || size < 0) throw protocolError('entry');
  return { mode, uid, gid, size, mtimeMs };
}

function typeOf(mode: number): SystemEntryType {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return 'directory';
    case S_IFREG:
      return 'file';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

function fstatOf(fd: number): Stats | undefined {
  try {
    return fstatSync(fd);
  } catch {
    return undefined;
  }
}

function isSize(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= 65535;
}

function protocolError(op: string): SystemError {
  return new SystemError('EPROTO', `the sandbox's init answered ${op} with something it never sends`);
}

import type { Readable, Writable } from 'node:stream';

/**
 * Everything envd does *to* a sandbox, behind one interface with two transports:
 *
 * - `LocalSystem`: envd runs inside the sandbox (a Firecracker guest) and uses Node's fs and
 *   child_process directly.
 * - `InitSystem`: envd runs once per host, outside the sandboxes (the namespace runtime), and asks
 *   each sandbox's native init (PID 1) over its Unix socket. The init does the work inside the
 *   sandbox — its namespaces, cgroup, seccomp, uid map — as the requested user, and hands back
 *   file descriptors (SCM_RIGHTS) that envd then streams from directly.
 *
 * Paths are paths inside the sandbox, absolute. Every call names the user it acts as; the
 * transport does the work with that user's uid, gid and groups, so the kernel checks permissions
 * and resolves symlinks inside the sandbox. Errors are `SystemError` with the errno code
 * (`ENOENT`, `EACCES`, …) so envd maps them to the same Connect codes whatever the transport.
 */
export interface SandboxSystem {
  /** The sandbox's own /etc/passwd and /etc/group, read as root (users may be added at run time). */
  readAccountFiles(): Promise<AccountFiles>;

  /** lstat, plus for a symlink what it points at (stat of the target, when it resolves) and its target text. */
  entry(path: string, user: SystemUser): Promise<SystemEntry>;
  /** Names in a directory, unsorted, without `.` and `..`. */
  readdir(path: string, user: SystemUser): Promise<string[]>;
  /** mkdir -p; answers the directories it created, top first (they belong to `user`). */
  mkdirs(path: string, user: SystemUser): Promise<string[]>;
  rename(from: string, to: string, user: SystemUser): Promise<void>;
  /** rm -rf: missing is not an error. */
  remove(path: string, user: SystemUser): Promise<void>;

  /** Opens a regular file for reading; `size` is its size at open. */
  openRead(path: string, user: SystemUser): Promise<{ stream: Readable; size: number }>;
  /**
   * Writes a file atomically: the bytes go to a new file beside `path`, owned by `user` with
   * `mode`, which replaces `path` when `commit()` is called; `abort()` removes it.
   */
  openWrite(path: string, user: SystemUser, mode: number): Promise<{ stream: Writable; commit(): Promise<void>; abort(): Promise<void> }>;

  /** inotify on `path` (and, when recursive, every directory below it, added as they appear). */
  watch(path: string, recursive: boolean, user: SystemUser, onEvent: (event: SystemWatchEvent) => void): Promise<SystemWatch>;

  /** Starts a process inside the sandbox in its own process group, in the sandbox's limited cgroups. */
  spawn(request: SpawnRequest): Promise<SystemProcess>;

  /** Stops every process this transport started (envd shutting down). */
  close(): Promise<void>;
}

/** The sandbox's /etc/passwd and /etc/group as read at one moment. */
export interface AccountFiles {
  passwd: string;
  group: string;
  /**
   * The two files' identity when they were read (see InitSystem), given only when a spawn can
   * check it still holds: a user resolved from these texts may then be reused until it does not.
   */
  stamp?: string;
}

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups (from the sandbox's /etc/group). */
  groups: number[];
  home: string;
  shell: string;
  /** The account files' stamp this user was resolved from (AccountFiles.stamp), if any. */
  accountsStamp?: string;
}

export type SystemEntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface SystemEntry {
  type: SystemEntryType;
  /** Of the entry itself, or, for a symlink that resolves, of its target. */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** A symlink's target as stored (readlink). */
  symlinkTarget?: string;
  /** For a symlink: whether its target is a directory (E2B lists it as a symlink either way). */
  targetIsDirectory?: boolean;
}

export type SystemWatchEventKind = 'create' | 'write' | 'remove' | 'rename' | 'chmod';

export interface SystemWatchEvent {
  kind: SystemWatchEventKind;
  /** Absolute path inside the sandbox. */
  path: string;
}

export interface SystemWatch {
  close(): Promise<void>;
}

export interface SpawnRequest {
  /** argv[0] is looked up in PATH (of `env`) when it has no slash. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  user: SystemUser;
  /** Open stdin as a pipe (otherwise /dev/null). Ignored with a PTY. */
  stdin: boolean;
  /** A pseudo-terminal inside the sandbox as the process's controlling terminal and stdio. */
  pty?: { cols: number; rows: number };
}

export interface SystemProcess {
  /** Pid as the sandbox sees it (its pid namespace). */
  pid: number;
  /** Absent without `stdin` (and with a PTY, input goes to `pty`). */
  stdin?: Writable;
  /** With a PTY: the terminal's output. */
  stdout: Readable;
  /** Absent with a PTY. */
  stderr?: Readable;
  /** The PTY's size; throws without one. */
  resize(cols: number, rows: number): void;
  /** To the whole process group. */
  signal(signal: NodeJS.Signals): void;
  /** Exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A failure the kernel reported, with its errno name. */
export class SystemError extends Error {
  constructor(readonly code: string, message: string, readonly path?: string) {
    super(message);
  }
}

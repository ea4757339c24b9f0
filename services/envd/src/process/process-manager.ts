import { ConnectError, Code } from '@connectrpc/connect';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { envdPath } from '../envd-config';
import { SandboxUser } from '../users';

export type ProcessOutput = { kind: 'stdout' | 'stderr' | 'pty'; data: Uint8Array };
export type ProcessEnd = { exitCode: number; exited: boolean; status: string; error?: string };
export type ProcessNotice = { kind: 'data'; output: ProcessOutput } | { kind: 'end'; end: ProcessEnd };

export interface StartOptions {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
  tag?: string;
  stdin: boolean;
  pty?: { cols: number; rows: number };
  user: SandboxUser;
}

/** How long output may still drain after the process itself exited. */
const EXIT_GRACE_MS = 250;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Bound in by the host agent: writing a pid to the files here moves it into the sandbox's limited groups. */
const USER_CGROUPS = '/run/wrenn/cgroup';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * One process envd started. Output goes to whoever is subscribed at the time (Start's stream,
 * later Connect streams); the end is remembered so a late subscriber still learns it.
 */
export class ManagedProcess {
  readonly pid: number;
  private readonly subscribers = new Set<(n: ProcessNotice) => void>();
  ended: ProcessEnd | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly options: StartOptions,
    private readonly onEnd: () => void,
  ) {
    this.pid = child.pid!;
    const forward = (kind: ProcessOutput['kind']) => (data: Buffer) => this.emit({ kind: 'data', output: { kind, data: new Uint8Array(data) } });
    child.stdout?.on('data', forward(options.pty ? 'pty' : 'stdout'));
    child.stderr?.on('data', forward(options.pty ? 'pty' : 'stderr'));
    child.stdin?.on('error', () => undefined); // writing to a process that exited is not envd's failure
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.ended) return;
      // Go's ProcessState wording, as E2B's envd reports it; a non-zero end also carries it
      // as the error (the SDK shows it in its CommandExitError).
      const status = signal ? `signal: ${signalText(signal)}` : `exit status ${code}`;
      this.ended = signal
        ? { exitCode: -1, exited: false, status, error: status }
        : { exitCode: code ?? -1, exited: true, status, error: code === 0 ? undefined : status };
      this.emit({ kind: 'end', end: this.ended });
      this.subscribers.clear();
      this.onEnd();
    };
    // 'close' (all output read) is the normal end. A child left in the background may keep the
    // pipes open for hours, though: like E2B's envd, the end follows the process's own exit, after
    // a short grace for output still in the pipes.
    child.on('close', finish);
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        if (this.ended) return;
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, EXIT_GRACE_MS).unref();
    });
  }

  private emit(notice: ProcessNotice): void {
    for (const s of this.subscribers) s(notice);
  }

  subscribe(listener: (n: ProcessNotice) => void): () => void {
    if (this.ended) {
      listener({ kind: 'end', end: this.ended });
      return () => undefined;
    }
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  writeInput(data: Uint8Array): void {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) throw new ConnectError('the process has no open stdin', Code.FailedPrecondition);
    stdin.write(data);
  }

  closeStdin(): void {
    if (this.options.pty) throw new ConnectError('a PTY process has no stdin to close: send Ctrl+D', Code.FailedPrecondition);
    this.child.stdin?.end();
  }

  /** Signals the whole process group: a shell's children go with it. */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      try {
        process.kill(this.pid, signal);
      } catch {
        /* already gone */
      }
    }
  }

  /** Resizes the PTY: stty on its terminal; the kernel then sends SIGWINCH to its foreground group. */
  resize(cols: number, rows: number): void {
    if (!this.options.pty) throw new ConnectError('the process has no PTY', Code.FailedPrecondition);
    const tty = this.ptyDevice();
    if (!tty) throw new ConnectError('the PTY is not ready', Code.Unavailable);
    spawnSync('stty', ['-F', tty, 'cols', String(cols), 'rows', String(rows)]);
  }

  private ptyDevice(): string | undefined {
    // `script` holds the master; its child (the command) has the slave as stdin.
    for (const task of readdirSync(`/proc/${this.pid}/task`)) {
      const children = readFileSync(`/proc/${this.pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
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
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function signalText(signal: NodeJS.Signals): string {
  return signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal.toLowerCase();
}

/** Starts, tracks and finds processes (by pid or by tag). */
export class ProcessManager {
  private readonly processes = new Map<number, ManagedProcess>();

  start(options: StartOptions): ManagedProcess {
    if (options.tag && [...this.processes.values()].some((p) => p.options.tag === options.tag)) {
      throw new ConnectError(`a process tagged "${options.tag}" is already running`, Code.AlreadyExists);
    }
    const user = options.user;
    const env: Record<string, string> = {
      // envd's own PATH (set by whoever started it), as E2B's envd passes it on.
      PATH: envdPath() ?? DEFAULT_PATH,
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      SHELL: user.shell,
      LANG: 'C.UTF-8',
      ...(options.pty ? { TERM: 'xterm-256color' } : {}),
      ...options.envs,
    };
    let file = options.cmd;
    let args = options.args;
    if (options.pty) {
      // A pseudo-terminal without a native module: util-linux `script` owns the PTY and relays
      // our pipes to it; the initial size is set on the terminal before the command runs.
      const inner = `stty cols ${options.pty.cols || 80} rows ${options.pty.rows || 24} 2>/dev/null; exec ${[options.cmd, ...options.args].map(shellQuote).join(' ')}`;
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
    const cwd = options.cwd ?? user.home;
    if (!isDirectory(cwd)) throw new ConnectError(`cwd '${cwd}' does not exist`, Code.InvalidArgument);
    const child = spawn(file, args, {
      cwd,
      env,
      detached: true, // own process group, so a signal reaches the command's children
      stdio: [options.stdin || options.pty ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const failure = new Promise<Error>((resolve) => child.once('error', resolve));
    if (child.pid === undefined) {
      // The command could not be started (no such file, not executable, bad cwd).
      return this.failedStart(options, failure);
    }
    const managed = new ManagedProcess(child, options, () => this.processes.delete(managed.pid));
    this.processes.set(managed.pid, managed);
    return managed;
  }

  private failedStart(options: StartOptions, failure: Promise<Error>): never {
    void failure;
    throw new ConnectError(`could not start "${options.cmd}": no such file, not executable, or bad working directory`, Code.InvalidArgument);
  }

  find(selector: { case: 'pid'; value: number } | { case: 'tag'; value: string } | { case: undefined; value?: undefined }): ManagedProcess {
    const found =
      selector.case === 'pid'
        ? this.processes.get(selector.value)
        : selector.case === 'tag'
          ? [...this.processes.values()].find((p) => p.options.tag === selector.value)
          : undefined;
    if (!found) throw new ConnectError(`process ${selector.value ?? '(none)'} not found`, Code.NotFound);
    return found;
  }

  list(): ManagedProcess[] {
    return [...this.processes.values()];
  }

  killAll(): void {
    for (const p of this.processes.values()) p.signal('SIGKILL');
  }
}

import { ConnectError, Code } from '@connectrpc/connect';
import { finished } from 'node:stream/promises';
import type { SandboxSystem, SystemProcess } from '../system/sandbox-system';
import { SystemError } from '../system/sandbox-system';
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
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * One process envd started. Output goes to whoever is subscribed at the time (Start's stream,
 * later Connect streams); the end is remembered so a late subscriber still learns it.
 */
export class ManagedProcess {
  readonly pid: number;
  private readonly subscribers = new Set<(n: ProcessNotice) => void>();
  ended: ProcessEnd | undefined;

  constructor(
    readonly proc: SystemProcess,
    readonly options: StartOptions,
    private readonly onEnd: () => void,
  ) {
    this.pid = proc.pid;
    const outputs = [proc.stdout, proc.stderr].filter((s) => s !== undefined);
    const forward = (kind: ProcessOutput['kind']) => (data: Buffer) => this.emit({ kind: 'data', output: { kind, data: new Uint8Array(data) } });
    proc.stdout.on('data', forward(options.pty ? 'pty' : 'stdout'));
    proc.stderr?.on('data', forward('stderr'));
    for (const s of outputs) s.on('error', () => undefined);
    proc.stdin?.on('error', () => undefined); // writing to a process that exited is not envd's failure
    // Output read to its end is the normal end. A child left in the background may keep the
    // pipes open for hours, though: like E2B's envd, the end follows the process's own exit, after
    // a short grace for output still in the pipes.
    const drained = Promise.all(outputs.map((s) => finished(s).catch(() => undefined)));
    void proc.exited.then(async ({ code, signal }) => {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => (grace = setTimeout(resolve, EXIT_GRACE_MS)))]);
      clearTimeout(grace);
      for (const s of outputs) s.destroy();
      // Go's ProcessState wording, as E2B's envd reports it; a non-zero end also carries it
      // as the error (the SDK shows it in its CommandExitError).
      const status = signal ? `signal: ${signalText(signal)}` : `exit status ${code}`;
      this.ended = signal
        ? { exitCode: -1, exited: false, status, error: status }
        : { exitCode: code ?? -1, exited: true, status, error: code === 0 ? undefined : status };
      this.emit({ kind: 'end', end: this.ended });
      this.subscribers.clear();
      this.onEnd();
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
    const stdin = this.proc.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) throw new ConnectError('the process has no open stdin', Code.FailedPrecondition);
    stdin.write(data);
  }

  closeStdin(): void {
    if (this.options.pty) throw new ConnectError('a PTY process has no stdin to close: send Ctrl+D', Code.FailedPrecondition);
    this.proc.stdin?.end();
  }

  /** Signals the whole process group: a shell's children go with it. */
  signal(signal: NodeJS.Signals): void {
    this.proc.signal(signal);
  }

  /** Resizes the PTY; the kernel then sends SIGWINCH to its foreground group. */
  resize(cols: number, rows: number): void {
    if (!this.options.pty) throw new ConnectError('the process has no PTY', Code.FailedPrecondition);
    try {
      this.proc.resize(cols, rows);
    } catch (error) {
      throw new ConnectError(`the PTY could not be resized: ${(error as Error).message}`, Code.Unavailable);
    }
  }
}

function signalText(signal: NodeJS.Signals): string {
  return signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal.toLowerCase();
}

/** Starts, tracks and finds one sandbox's processes (by pid or by tag), through its SandboxSystem. */
export class ProcessManager {
  private readonly processes = new Map<number, ManagedProcess>();

  constructor(
    private readonly system: SandboxSystem,
    /** PATH of the processes started (envd's own inside a guest, as E2B's envd passes it on). */
    private readonly path: string = DEFAULT_PATH,
  ) {}

  async start(options: StartOptions): Promise<ManagedProcess> {
    if (options.tag && [...this.processes.values()].some((p) => p.options.tag === options.tag)) {
      throw new ConnectError(`a process tagged "${options.tag}" is already running`, Code.AlreadyExists);
    }
    const user = options.user;
    const env: Record<string, string> = {
      PATH: this.path,
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      SHELL: user.shell,
      LANG: 'C.UTF-8',
      ...(options.pty ? { TERM: 'xterm-256color' } : {}),
      ...options.envs,
    };
    const cwd = options.cwd ?? user.home;
    let proc: SystemProcess;
    try {
      proc = await this.system.spawn({ argv: [options.cmd, ...options.args], env, cwd, user, stdin: options.stdin, pty: options.pty });
    } catch (error) {
      // ESTALE: the user's account stamp no longer holds; the caller resolves it again.
      if (!(error instanceof SystemError) || error.code === 'ESTALE') throw error;
      // Asked only once the start failed: the common case costs no extra call into the sandbox.
      const dir = await this.system.entry(cwd, user).catch(() => undefined);
      if (!dir || !(dir.type === 'directory' || dir.targetIsDirectory)) throw new ConnectError(`cwd '${cwd}' does not exist`, Code.InvalidArgument);
      throw new ConnectError(`could not start "${options.cmd}": no such file, not executable, or bad working directory`, Code.InvalidArgument);
    }
    const managed = new ManagedProcess(proc, options, () => this.processes.delete(managed.pid));
    this.processes.set(managed.pid, managed);
    return managed;
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

  /** How many processes are running (an envd instance with none may be dropped when idle). */
  get size(): number {
    return this.processes.size;
  }

  killAll(): void {
    for (const p of this.processes.values()) p.signal('SIGKILL');
  }
}

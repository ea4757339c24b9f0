import { execFile } from 'node:child_process';

export class CommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly exitCode: number | null) {
    super(`${command} failed: ${stderr.trim() || `exit ${exitCode}`}`);
    this.name = 'CommandError';
  }
}

/** Runs a program with arguments (never through a shell) and returns stdout; throws with stderr. */
export function run(file: string, args: string[], options: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new CommandError(`${file} ${args.join(' ')}`, String(stderr), typeof error.code === 'number' ? error.code : null));
      else resolve(String(stdout));
    });
    if (options.input !== undefined) {
      // A program that fails before reading its input closes the pipe under us: its exit status
      // is the failure to report, and an EPIPE left unhandled would take the whole agent down.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
  });
}

/** "Cannot find device", "No such file", "does not exist": teardown of something already gone. */
export function isGone(error: unknown): boolean {
  return error instanceof CommandError && /cannot find|no such|does not exist|not found|Bad rule|doesn't exist|No chain\/target\/match/i.test(error.stderr);
}

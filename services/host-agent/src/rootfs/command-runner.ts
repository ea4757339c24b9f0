import { execFile } from 'node:child_process';

/** A host tool that exited non-zero; `stderr` says why (dmsetup and losetup speak through it). */
export class HostCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${command} failed: ${stderr.trim() || `exit ${exitCode}`}`);
    this.name = 'HostCommandError';
  }
}

/**
 * How the rootfs stores reach `losetup`, `dmsetup` and `cp`: one small seam, so their exact
 * invocations can be checked where the kernel lacks device-mapper.
 */
export interface CommandRunner {
  /** Runs `file` with `args` (no shell) and resolves with stdout; rejects with HostCommandError. */
  run(file: string, args: string[]): Promise<string>;
}

export const hostCommandRunner: CommandRunner = {
  run(file, args) {
    return new Promise((resolve, reject) => {
      execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new HostCommandError(`${file} ${args.join(' ')}`, String(stderr), typeof error.code === 'number' ? error.code : null));
        else resolve(String(stdout));
      });
    });
  },
};

export function isBusy(error: unknown): boolean {
  return error instanceof HostCommandError && /Device or resource busy/i.test(error.stderr);
}

/** dmsetup/losetup's ways of saying the thing to remove is not there: success for a teardown. */
export function isAbsent(error: unknown): boolean {
  return error instanceof HostCommandError && /No such device|not found|does not exist|No such file|failed to find|No such device or address/i.test(error.stderr);
}

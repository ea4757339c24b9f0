import { spawn } from 'node:child_process';

/** Sets a sandbox's hostname later, from a process made now (a warm sandbox's, made at warm-up). */
export interface PendingHostname {
  /** Sets it; the process then exits. */
  set(name: string): Promise<void>;
  /** The hostname will not be set: the process exits without touching it. */
  cancel(): void;
}

/**
 * A shell in the sandbox's UTS namespace that waits for the name on its stdin. Spawning it (and
 * nsenter's setns) is the slow part of a hostname change; made at warm-up, a claim only writes a
 * line and waits for the exit. No tool that would refuse the "_" in ids. An agent that dies
 * closes the pipe, and the shell exits on the end of its input without writing anything.
 */
export function prepareHostname(initPid: number): PendingHostname {
  const child = spawn('nsenter', ['--target', String(initPid), '--uts', '--', '/bin/sh', '-c', 'read -r name || exit 3; printf %s "$name" > /proc/sys/kernel/hostname'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('exit', (code) => resolve(code));
  });
  child.stdin.on('error', () => undefined);
  return {
    async set(name: string) {
      if (/[\n\r]/.test(name)) throw new Error('a hostname has no line breaks');
      child.stdin.end(`${name}\n`);
      const code = await exited;
      if (code !== 0) throw new Error(`setting the hostname failed (${code})`);
    },
    cancel() {
      child.stdin.end();
    },
  };
}

/** Sets the hostname inside a sandbox's UTS namespace now (one process, spawned and waited for). */
export function setHostname(initPid: number, name: string): Promise<void> {
  return prepareHostname(initPid).set(name);
}

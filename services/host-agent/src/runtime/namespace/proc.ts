import { readFileSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';

/**
 * Small /proc helpers. A pid alone is not an identity (pids are reused), so the runtime records
 * each init's start time (field 22 of /proc/<pid>/stat, in clock ticks since boot) and treats a
 * pid as "ours" only when both match.
 */
export async function startTime(pid: number): Promise<string | null> {
  try {
    return startField(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

function startField(stat: string): string | null {
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? null; // field 22 overall = index 19 after pid, comm and state's offset
}

/**
 * isSameProcess without the thread pool: a /proc read never waits on a disk, and on a claim's
 * path it must not queue behind the pool's file work (a teardown's, a refill's) either.
 */
export function isSameProcessNow(pid: number, expectedStart: string): boolean {
  try {
    return startField(readFileSync(`/proc/${pid}/stat`, 'utf8')) === expectedStart;
  } catch {
    return false;
  }
}

export async function isSameProcess(pid: number, expectedStart: string): Promise<boolean> {
  return (await startTime(pid)) === expectedStart;
}

export async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function exePath(pid: number): Promise<string | null> {
  try {
    return await readlink(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

export async function isZombieOrGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/**
 * Waits until a pid is gone (or a zombie), polling; false on timeout. A killed sandbox's init
 * is usually gone within a millisecond or two: the first polls come sooner, so a teardown does
 * not wait out a whole 5 ms step for it.
 */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let poll = 0; Date.now() < deadline; poll++) {
    if (await isZombieOrGone(pid)) return true;
    await new Promise((r) => setTimeout(r, poll < 4 ? 1 : 5));
  }
  return isZombieOrGone(pid);
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Waits until a process is gone and reaped (no /proc entry of that start time); false on timeout. */
export async function waitReaped(pid: number, start: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isSameProcess(pid, start))) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return !(await isSameProcess(pid, start));
}

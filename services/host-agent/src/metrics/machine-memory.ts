import { readFileSync } from 'node:fs';

export interface MachineMemory {
  totalMb: number;
  /** MemTotal − MemAvailable: what the kernel could not hand out now without swapping or OOM. */
  usedMb: number;
}

const KIB_PER_MIB = 1024;

/**
 * The machine's memory from /proc/meminfo. MemAvailable, not MemFree: page cache the kernel can
 * drop is not use, or a host that has read a few images would look full. Read synchronously: it
 * is one small kernel-generated file, read once per heartbeat and once per admitted create.
 */
export function readMachineMemory(path = '/proc/meminfo'): MachineMemory {
  return parseMeminfo(readFileSync(path, 'utf8'));
}

export function parseMeminfo(text: string): MachineMemory {
  const field = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const total = field('MemTotal');
  if (total === undefined) throw new Error('no MemTotal in /proc/meminfo');
  // Kernels before 3.14 lack MemAvailable: free plus page cache is its old approximation.
  const available = field('MemAvailable') ?? (field('MemFree') ?? 0) + (field('Cached') ?? 0);
  return { totalMb: Math.floor(total / KIB_PER_MIB), usedMb: Math.ceil((total - available) / KIB_PER_MIB) };
}

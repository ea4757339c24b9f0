import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Real disk usage of a tree: the sum of allocated blocks (st_blocks × 512) — a sparse 1 GiB file
 * with 4 KiB written counts as 4 KiB — with hard links counted once and symlinks not followed.
 * Entries that vanish mid-walk are skipped: the sandbox may be writing while we measure.
 */
export async function diskUsageBytes(root: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (path: string): Promise<void> => {
    let st;
    try {
      st = await lstat(path, { bigint: true });
    } catch {
      return;
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += Number(st.blocks) * 512;
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = await readdir(path);
    } catch {
      return;
    }
    for (const name of names) await walk(join(path, name));
  };
  await walk(root);
  return total;
}

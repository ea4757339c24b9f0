import { FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HOLE, SnapshotHeader, fullHeader, memfileName } from './snapshot-header';

const CHUNK_PAGES_MAX_BYTES = 4 << 20;

/**
 * Folds a chain of generations into one Full memory file `memfile.<buildId>` in `memfileDir`
 * and returns its header: every page holds what the chain resolves it to, holes stay holes (the
 * file is sparse there). For when a chain must be shortened without the VM running (a template
 * taken from a long chain); a running VM is simply snapshotted Full instead.
 */
export async function collapseChain(h: SnapshotHeader, memfileDir: string, buildId: string): Promise<SnapshotHeader> {
  const target = join(memfileDir, memfileName(buildId));
  const sources: FileHandle[] = [];
  let out: FileHandle | undefined;
  try {
    for (const id of h.generations) sources.push(await open(join(memfileDir, memfileName(id)), 'r'));
    out = await open(target, 'wx', 0o644);
    await out.truncate(h.sizeBytes);
    const present: number[] = [];
    const maxRun = Math.max(1, Math.floor(CHUNK_PAGES_MAX_BYTES / h.pageSize));
    const buf = Buffer.alloc(maxRun * h.pageSize);
    const map = h.pageMap;
    for (let p = 0; p < map.length; ) {
      const g = map[p];
      let end = p + 1;
      while (end < map.length && end - p < maxRun && map[end] === g) end++;
      if (g !== HOLE) {
        const len = (end - p) * h.pageSize;
        const pos = p * h.pageSize;
        const { bytesRead } = await sources[g - 1].read(buf, 0, len, pos);
        if (bytesRead !== len) throw new Error(`${memfileName(h.generations[g - 1])} ends before page ${p + Math.floor(bytesRead / h.pageSize)}`);
        await out.write(buf, 0, len, pos);
        for (let q = p; q < end; q++) present.push(q);
      }
      p = end;
    }
    await out.sync();
    return fullHeader(buildId, h.sizeBytes, h.pageSize, present);
  } catch (error) {
    if (out) await rm(target, { force: true });
    throw error;
  } finally {
    await out?.close();
    await Promise.all(sources.map((s) => s.close()));
  }
}

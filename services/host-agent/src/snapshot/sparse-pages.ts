import { SnapshotError, SnapshotErrorCode } from './snapshot-error';
import { loadNative } from '../uffd/native-binding';

/** A byte range `[start, end)` of a file that holds data (everything between them is a hole). */
export interface DataExtent {
  start: number;
  end: number;
}

/** The data extents of a sparse file, found with `lseek(SEEK_DATA / SEEK_HOLE)`. */
export function dataExtents(path: string): DataExtent[] {
  const flat = loadNative().dataExtents(path);
  const out: DataExtent[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ start: flat[i], end: flat[i + 1] });
  return out;
}

/**
 * The pages of a memory file that hold data. A Diff snapshot is a full-size sparse file where only
 * the dirty pages were written, so these are its dirty pages; for a Full they are the pages that
 * are not holes. A page that shares any byte with an extent counts (file systems allocate in
 * blocks that need not match the guest's page size).
 */
export function dataPages(path: string, pageSize: number, sizeBytes?: number): number[] {
  if (!Number.isInteger(pageSize) || pageSize <= 0) throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `page size ${pageSize} is not a positive integer`);
  const pages: number[] = [];
  const limit = sizeBytes === undefined ? Infinity : Math.ceil(sizeBytes / pageSize);
  let last = -1;
  for (const { start, end } of dataExtents(path)) {
    const first = Math.max(Math.floor(start / pageSize), last + 1);
    const stop = Math.min(Math.ceil(end / pageSize), limit);
    for (let p = first; p < stop; p++) pages.push(p);
    if (stop > 0) last = Math.max(last, stop - 1);
  }
  return pages;
}

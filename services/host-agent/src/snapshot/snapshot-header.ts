import { SnapshotError, SnapshotErrorCode } from './snapshot-error';

/** Format version this build writes and reads. */
export const HEADER_VERSION = 1;
/**
 * A chain longer than this is not diffed onto: the next pause writes a Full. Every generation is
 * a file that must stay on the host and a level the page server resolves through, so the bound
 * keeps both resume cost and disk use flat.
 */
export const MAX_GENERATIONS = 10;
/** Page map value of a page no generation holds: it reads as zeros. */
export const HOLE = 0;

/**
 * Maps every page of a guest's memory to the generation file that holds its latest content.
 * `generations[i]` is the build id of `memfile.<buildId>`; `pageMap[p]` is `i + 1` for page `p`
 * held by generation `i`, or {@link HOLE}. Every generation file is full size: page `p` lives at
 * offset `p * pageSize` in whichever file holds it.
 */
export interface SnapshotHeader {
  readonly version: number;
  readonly pageSize: number;
  readonly sizeBytes: number;
  /** Build ids, oldest first. */
  readonly generations: readonly string[];
  /** One byte per page: 1-based index into `generations`, 0 = hole. */
  readonly pageMap: Uint8Array;
}

/** Where one page's content lives. */
export interface PageLocation {
  buildId: string;
  offset: number;
}

const BUILD_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function memfileName(buildId: string): string {
  assertBuildId(buildId);
  return `memfile.${buildId}`;
}

export function pageCount(h: Pick<SnapshotHeader, 'sizeBytes' | 'pageSize'>): number {
  return h.sizeBytes / h.pageSize;
}

/**
 * The header of a Full snapshot: one generation holding every page. When `presentPages` is given
 * (the data extents of a sparse memory file, see `dataPages`), the pages outside it are holes and
 * the page server answers them with zero pages instead of reading the file.
 */
export function fullHeader(buildId: string, sizeBytes: number, pageSize: number, presentPages?: Iterable<number>): SnapshotHeader {
  assertBuildId(buildId);
  assertGeometry(sizeBytes, pageSize);
  const pageMap = new Uint8Array(sizeBytes / pageSize);
  if (presentPages === undefined) pageMap.fill(1);
  else for (const p of presentPages) pageMap[checkedPage(pageMap.length, p)] = 1;
  return { version: HEADER_VERSION, pageSize, sizeBytes, generations: [buildId], pageMap };
}

/** True when a Diff may not be stacked on `parent`: the next snapshot must be a Full. */
export function needsFull(parent: SnapshotHeader): boolean {
  return parent.generations.length >= MAX_GENERATIONS;
}

/**
 * The header of a Diff snapshot on top of `parent`: the dirty pages now live in `buildId`'s file,
 * every other page where the parent had it. Throws `generation_limit` when {@link needsFull}
 * says so; the caller then takes a Full snapshot, which starts a new chain.
 */
export function diffHeader(parent: SnapshotHeader, buildId: string, dirtyPages: Iterable<number>): SnapshotHeader {
  assertBuildId(buildId);
  if (needsFull(parent)) {
    throw new SnapshotError(SnapshotErrorCode.GenerationLimit, `chain already has ${parent.generations.length} generations (max ${MAX_GENERATIONS}): take a Full snapshot`);
  }
  if (parent.generations.includes(buildId)) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `build id ${buildId} is already a generation of this chain`);
  }
  const pageMap = Uint8Array.from(parent.pageMap);
  const generation = parent.generations.length + 1;
  for (const p of dirtyPages) pageMap[checkedPage(pageMap.length, p)] = generation;
  return { version: HEADER_VERSION, pageSize: parent.pageSize, sizeBytes: parent.sizeBytes, generations: [...parent.generations, buildId], pageMap };
}

/** Where page `page` lives, or null for a hole (the page reads as zeros). */
export function resolvePage(h: SnapshotHeader, page: number): PageLocation | null {
  const g = h.pageMap[checkedPage(h.pageMap.length, page)];
  if (g === HOLE) return null;
  return { buildId: h.generations[g - 1], offset: page * h.pageSize };
}

/** How many pages each generation still holds (a generation at 0 is no longer read). */
export function pagesPerGeneration(h: SnapshotHeader): Map<string, number> {
  const counts = new Array<number>(h.generations.length + 1).fill(0);
  for (const g of h.pageMap) counts[g]++;
  return new Map(h.generations.map((id, i) => [id, counts[i + 1]]));
}

export function assertBuildId(buildId: string): void {
  if (!BUILD_ID.test(buildId)) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `build id ${JSON.stringify(buildId)} must be 1–128 of [A-Za-z0-9_-]`);
  }
}

export function assertGeometry(sizeBytes: number, pageSize: number): void {
  if (!Number.isInteger(pageSize) || pageSize < 4096 || (pageSize & (pageSize - 1)) !== 0 || pageSize > 1 << 30) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `page size ${pageSize} must be a power of two from 4096 to 1 GiB`);
  }
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % pageSize !== 0) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `memory size ${sizeBytes} must be a positive multiple of the page size ${pageSize}`);
  }
  // One byte per page in memory; 2^31 pages is 8 TiB at 4 KiB pages.
  if (sizeBytes / pageSize > 2 ** 31) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `memory size ${sizeBytes} has too many pages`);
  }
}

function checkedPage(count: number, page: number): number {
  if (!Number.isInteger(page) || page < 0 || page >= count) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `page ${page} is outside the memory (${count} pages)`);
  }
  return page;
}

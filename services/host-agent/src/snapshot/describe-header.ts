import { HOLE, SnapshotHeader, memfileName, pageCount } from './snapshot-header';

export interface HeaderDescription {
  version: number;
  pageSize: number;
  sizeBytes: number;
  pages: number;
  holes: number;
  /** Runs of consecutive pages held by one generation (or holes): how fragmented the map is. */
  runs: number;
  generations: Array<{ index: number; buildId: string; file: string; pages: number; bytes: number }>;
}

/** What `wrenn snapshot inspect` prints: the header's shape and where its pages live. */
export function describeHeader(h: SnapshotHeader): HeaderDescription {
  const counts = new Array<number>(h.generations.length + 1).fill(0);
  let runs = 0;
  for (let p = 0; p < h.pageMap.length; p++) {
    counts[h.pageMap[p]]++;
    if (p === 0 || h.pageMap[p] !== h.pageMap[p - 1]) runs++;
  }
  return {
    version: h.version,
    pageSize: h.pageSize,
    sizeBytes: h.sizeBytes,
    pages: pageCount(h),
    holes: counts[HOLE],
    runs,
    generations: h.generations.map((buildId, i) => ({ index: i, buildId, file: memfileName(buildId), pages: counts[i + 1], bytes: counts[i + 1] * h.pageSize })),
  };
}

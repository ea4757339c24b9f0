import { dataPages } from './sparse-pages';
import { SnapshotHeader, diffHeader, fullHeader, needsFull } from './snapshot-header';

/** Firecracker's `snapshot_type` of `PUT /snapshot/create`. */
export const SnapshotType = { Full: 'Full', Diff: 'Diff' } as const;
export type SnapshotType = (typeof SnapshotType)[keyof typeof SnapshotType];

/**
 * Which snapshot to take when pausing: a Full the first time (no parent) and when the parent's
 * chain is at its generation limit, else a Diff of the pages dirtied since the resume.
 */
export function nextSnapshotType(parent: SnapshotHeader | null): SnapshotType {
  return parent === null || needsFull(parent) ? SnapshotType.Full : SnapshotType.Diff;
}

export interface SnapshotTaken {
  /** The header the restored guest was served from; null for a first pause. */
  parent: SnapshotHeader | null;
  type: SnapshotType;
  buildId: string;
  /** The memory file Firecracker just wrote (`memfile.<buildId>`). */
  memfilePath: string;
  sizeBytes: number;
  pageSize: number;
}

/**
 * The header of a snapshot just written: a Full maps its data pages to the new file and its
 * holes to zeros; a Diff maps the pages its sparse file holds (the dirty set) to the new file
 * and keeps the parent's mapping for the rest.
 */
export function headerForSnapshot(s: SnapshotTaken): SnapshotHeader {
  const present = dataPages(s.memfilePath, s.pageSize, s.sizeBytes);
  if (s.type === SnapshotType.Full) return fullHeader(s.buildId, s.sizeBytes, s.pageSize, present);
  if (s.parent === null) throw new Error('a Diff snapshot needs the header it was resumed from');
  if (s.parent.sizeBytes !== s.sizeBytes || s.parent.pageSize !== s.pageSize) {
    throw new Error(`a Diff of ${s.sizeBytes} bytes in ${s.pageSize}-byte pages cannot stack on a parent of ${s.parent.sizeBytes} in ${s.parent.pageSize}`);
  }
  return diffHeader(s.parent, s.buildId, present);
}

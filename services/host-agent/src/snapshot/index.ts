export { SnapshotError, SnapshotErrorCode } from './snapshot-error';
export {
  HEADER_VERSION,
  HOLE,
  MAX_GENERATIONS,
  diffHeader,
  fullHeader,
  memfileName,
  needsFull,
  pageCount,
  pagesPerGeneration,
  resolvePage,
} from './snapshot-header';
export type { PageLocation, SnapshotHeader } from './snapshot-header';
export { HEADER_MAGIC, decodeHeader, encodeHeader } from './header-codec';
export { dataExtents, dataPages } from './sparse-pages';
export type { DataExtent } from './sparse-pages';
export { collapseChain } from './collapse';
export { describeHeader } from './describe-header';
export type { HeaderDescription } from './describe-header';
export { readHeaderFile, writeHeaderFile, headerFileName } from './header-file';
export { SnapshotType, headerForSnapshot, nextSnapshotType } from './snapshot-plan';
export type { SnapshotTaken } from './snapshot-plan';

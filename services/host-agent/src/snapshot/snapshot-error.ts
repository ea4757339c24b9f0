/** Why a snapshot header or memory file was refused. Host-internal: never crosses the API. */
export const SnapshotErrorCode = {
  /** The bytes end before the header says they should. */
  Truncated: 'header_truncated',
  /** Wrong magic, bad checksum or an impossible layout. */
  Corrupt: 'header_corrupt',
  /** Written by a format version this build does not read. */
  VersionUnsupported: 'header_version_unsupported',
  /** A Diff on top of a chain that already has the maximum number of generations. */
  GenerationLimit: 'generation_limit',
  /** A caller passed something no header can hold (bad page size, page out of range, …). */
  InvalidArgument: 'invalid_argument',
} as const;
export type SnapshotErrorCode = (typeof SnapshotErrorCode)[keyof typeof SnapshotErrorCode];

export class SnapshotError extends Error {
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SnapshotError';
  }
}

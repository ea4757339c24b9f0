// The userfaultfd guest stand-in, for tests and benchmarks only: a separate addon
// (native/test-guest.js, built by `node scripts/build-native.mjs --test-guest`, which npm test
// runs), so the production addon carries none of it.

export interface NativeGuestOptions {
  socketPath: string;
  pageSize: number;
  /** Regions of one guest memory: sizes in bytes and their offsets in the memory file. */
  regions: Array<{ size: number; offset: number }>;
}

/**
 * A guest stand-in for tests and benchmarks: anonymous memory registered with a userfaultfd in
 * missing mode, announced to a page server exactly as Firecracker does it.
 */
export interface NativeUffdGuest {
  /**
   * Touches every page from `threads` native threads at once, each from its own starting point
   * (or in its own random order); resolves with the elapsed seconds.
   */
  touchAll(threads: number, order?: 'sequential' | 'random'): Promise<number>;
  /** Copies guest memory at memory-file offset `offset` (faults pages in if missing). */
  read(offset: number, length: number): Buffer;
  /** madvise(MADV_DONTNEED): the kernel drops the pages and tells the server (UFFD_EVENT_REMOVE). */
  discard(offset: number, length: number): void;
  /** Unmaps the memory and closes the userfaultfd and the socket. Idempotent. */
  close(): void;
}

let cached: { UffdGuest: new (o: NativeGuestOptions) => NativeUffdGuest } | undefined;

/** Loads the test guest addon once; a clear message when it was never built. */
export function loadTestGuest(): { UffdGuest: new (o: NativeGuestOptions) => NativeUffdGuest } {
  if (cached) return cached;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require('@wrenn/native/test-guest') as typeof cached;
  } catch (error) {
    throw new Error(`the test guest addon is not built (npm test builds it; or run \`node scripts/build-native.mjs --test-guest\`): ${(error as Error).message}`);
  }
  return cached!;
}

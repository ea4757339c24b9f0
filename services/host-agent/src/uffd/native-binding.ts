// The native addon (`native/`, built by node-gyp) as TypeScript sees it. Node can neither receive
// a file descriptor over a Unix socket nor call userfaultfd ioctls, and a fault must be answered
// while the JS thread may be busy: the page server runs on a native thread.

export interface NativeServerStats {
  /** Page faults answered (each one a blocked guest thread woken). */
  faults: number;
  /** UFFDIO_COPY calls and the bytes they placed (read-ahead included). */
  copies: number;
  bytesCopied: number;
  /** Pages answered with UFFDIO_ZEROPAGE: holes, and pages removed since the snapshot. */
  zeroPages: number;
  /** Faults on pages another fault (or read-ahead) had already placed. */
  alreadyPresent: number;
  /** UFFD_EVENT_REMOVE / UNMAP events seen. */
  removeEvents: number;
  errors: number;
  /** 'listening' until the handshake, 'serving', then 'closed' (peer gone or stopped) or 'failed'. */
  state: 'listening' | 'serving' | 'closed' | 'failed';
  /** Memory regions the peer announced. */
  regions: number;
  lastError: string;
}

export interface NativeServerOptions {
  socketPath: string;
  pageSize: number;
  sizeBytes: number;
  /** One byte per page: 1-based index into `files`, 0 = hole. */
  pageMap: Uint8Array;
  /** Generation files, oldest first, each at least `sizeBytes` long. */
  files: string[];
  /** Pages placed per fault when the following pages are missing and come from the same file. */
  readaheadPages: number;
}

export interface NativeUffdServer {
  stats(): NativeServerStats;
  /** Wakes the serving thread, joins it, closes every fd and unmaps every file. Idempotent. */
  stop(): void;
}

export interface NativeAddon {
  UffdServer: new (o: NativeServerOptions) => NativeUffdServer;
  /** The regions the page server reads from a handshake body; throws the reason it would fail. */
  parseHandshake(json: string): Array<{ base: number; size: number; offset: number; pageSize: number }>;
  /** Data extents of a sparse file as flat [start, end, start, end, …] byte offsets. */
  dataExtents(path: string): number[];
}

let cached: NativeAddon | undefined;

/** Loads the addon once; a clear message when it was never built. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require('@wrenn/native') as NativeAddon;
  } catch (error) {
    throw new Error(`the native addon is not built (run \`npm run build\`, which runs node scripts/build-native.mjs): ${(error as Error).message}`);
  }
  return cached;
}

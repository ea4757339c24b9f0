import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { SnapshotHeader, memfileName } from '../snapshot/snapshot-header';
import { encodeHeader } from '../snapshot/header-codec';
import { NativeServerStats, NativeUffdServer, loadNative } from './native-binding';

export type PageServerStats = NativeServerStats;

export interface PageServerOptions {
  /** Where Firecracker connects (`mem_backend.backend_path` of `PUT /snapshot/load`). Must not exist. */
  socketPath: string;
  header: SnapshotHeader;
  /** Directory holding `memfile.<buildId>` of every generation the header names. */
  memfileDir: string;
  /**
   * Most pages placed per fault (default 64: 256 KiB of 4 KiB pages). The window starts at 8
   * and doubles while faults continue a recent window; 1 places only the faulting page.
   */
  readaheadPages?: number;
}

export const DEFAULT_READAHEAD_PAGES = 64;

/**
 * Serves a restored guest's memory on demand: listens on a Unix socket for Firecracker's
 * userfaultfd handshake, then answers each page fault from the generation file the snapshot
 * header names (zero pages for holes). The serving loop is a native thread; this object only
 * starts it, reads its counters and stops it. One page server per restored VM.
 */
export class PageServer {
  private stopped = false;

  private constructor(
    readonly socketPath: string,
    private readonly native: NativeUffdServer,
  ) {}

  static async start(o: PageServerOptions): Promise<PageServer> {
    // Validates the header the same way a decoded one is (page map, generations, geometry).
    encodeHeader(o.header);
    const readahead = o.readaheadPages ?? DEFAULT_READAHEAD_PAGES;
    if (!Number.isInteger(readahead) || readahead < 1 || readahead > 4096) {
      throw new RangeError(`readaheadPages ${readahead} must be an integer from 1 to 4096`);
    }
    if (await lstat(o.socketPath).then(() => true, () => false)) {
      throw new Error(`page server socket ${o.socketPath} already exists`);
    }
    // The constructor opens and maps every file and binds the socket before it returns, so a
    // missing or short generation file fails here, not at the guest's first fault.
    const native = new (loadNative().UffdServer)({
      socketPath: o.socketPath,
      pageSize: o.header.pageSize,
      sizeBytes: o.header.sizeBytes,
      pageMap: o.header.pageMap,
      files: o.header.generations.map((id) => join(o.memfileDir, memfileName(id))),
      readaheadPages: readahead,
    });
    return new PageServer(o.socketPath, native);
  }

  stats(): PageServerStats {
    return this.native.stats();
  }

  /** Stops serving, joins the thread, closes every fd and removes the socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.native.stop();
  }
}

import { join } from 'node:path';
import {
  dataPages,
  diffHeader,
  fullHeader,
  headerFileName,
  memfileName,
  readHeaderFile,
  SnapshotHeader,
  writeHeaderFile,
} from '../../snapshot';
import { PageServer } from '../../uffd';
import { SnapshotType } from './firecracker-api';

/** Guest page size Firecracker snapshots with (no huge pages configured). */
export const GUEST_PAGE_SIZE = 4096;

/** What serves a restored guest's memory; stopped when the VM goes. */
export interface MemoryServer {
  stop(): Promise<void>;
}

export interface MemoryServerOptions {
  socketPath: string;
  memfileDir: string;
  header: SnapshotHeader;
}

export interface MemorySnapshotsOptions {
  /** Pages of a memory file that hold data (default: the native addon's SEEK_DATA scan). */
  scanPages?: (path: string, pageSize: number, sizeBytes: number) => number[];
  /** Starts the userfaultfd page server (default: PageServer.start). */
  startServer?: (o: MemoryServerOptions) => Promise<MemoryServer>;
}

/**
 * The memory side of VM snapshots: after Firecracker wrote `memfile.<buildId>`, records which
 * pages it holds in `header.<buildId>` (a new chain for a Full, one more generation for a Diff),
 * and serves a chain back to a restoring VM through the page server.
 */
export class MemorySnapshots {
  private readonly scanPages: NonNullable<MemorySnapshotsOptions['scanPages']>;
  private readonly startServer: NonNullable<MemorySnapshotsOptions['startServer']>;

  constructor(options: MemorySnapshotsOptions = {}) {
    this.scanPages = options.scanPages ?? dataPages;
    this.startServer = options.startServer ?? ((o) => PageServer.start(o));
  }

  async record(dir: string, buildId: string, type: SnapshotType, sizeBytes: number, parent?: SnapshotHeader): Promise<SnapshotHeader> {
    const pages = this.scanPages(join(dir, memfileName(buildId)), GUEST_PAGE_SIZE, sizeBytes);
    const header = type === 'Diff' ? diffHeader(requireParent(parent), buildId, pages) : fullHeader(buildId, sizeBytes, GUEST_PAGE_SIZE, pages);
    await writeHeaderFile(join(dir, headerFileName(buildId)), header);
    return header;
  }

  read(dir: string, buildId: string): Promise<SnapshotHeader> {
    return readHeaderFile(join(dir, headerFileName(buildId)));
  }

  serve(o: MemoryServerOptions): Promise<MemoryServer> {
    return this.startServer(o);
  }
}

function requireParent(parent: SnapshotHeader | undefined): SnapshotHeader {
  if (!parent) throw new Error('a Diff snapshot needs the header of the snapshot it extends');
  return parent;
}

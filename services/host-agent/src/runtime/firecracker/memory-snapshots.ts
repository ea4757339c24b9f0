import { join } from 'node:path';
import {
  headerFileName,
  headerForSnapshot,
  memfileName,
  nextSnapshotType,
  readHeaderFile,
  SnapshotHeader,
  writeHeaderFile,
} from '../../snapshot';
import { PageServerProcess, PageServerProcessRef } from '../../uffd';
import { isZombieOrGone } from '../namespace/proc';
import { SnapshotType } from './firecracker-api';

/** Guest page size Firecracker snapshots with (no huge pages configured). */
export const GUEST_PAGE_SIZE = 4096;

/** The page server of one restored VM: a detached process, recorded by `ref` beside the VM. */
export interface MemoryServer {
  readonly ref: PageServerProcessRef;
  alive(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface MemoryServerOptions {
  /** Where Firecracker connects (`mem_backend.backend_path`). */
  socketPath: string;
  /** Directory of the chain's `memfile.*` files and of `header.<buildId>`. */
  memfileDir: string;
  buildId: string;
  logPath?: string;
}

/**
 * The memory side of VM snapshots, on the snapshot header and page server modules: which kind
 * of snapshot a pause takes, the header of one Firecracker just wrote (a new chain for a Full,
 * one more generation for a Diff), and the page server that serves a chain to a restoring VM —
 * in its own process, so a restored VM outlives an agent restart.
 */
export class MemorySnapshots {
  /** Full without a chain to extend or when the chain is at its generation limit, else Diff. */
  nextType(parent: SnapshotHeader | null): SnapshotType {
    return nextSnapshotType(parent);
  }

  async record(dir: string, buildId: string, type: SnapshotType, sizeBytes: number, parent: SnapshotHeader | null): Promise<SnapshotHeader> {
    const header = headerForSnapshot({ parent, type, buildId, memfilePath: join(dir, memfileName(buildId)), sizeBytes, pageSize: GUEST_PAGE_SIZE });
    await writeHeaderFile(join(dir, headerFileName(buildId)), header);
    return header;
  }

  read(dir: string, buildId: string): Promise<SnapshotHeader> {
    return readHeaderFile(join(dir, headerFileName(buildId)));
  }

  serve(o: MemoryServerOptions): Promise<MemoryServer> {
    return PageServerProcess.start({ socketPath: o.socketPath, headerPath: join(o.memfileDir, headerFileName(o.buildId)), memfileDir: o.memfileDir, logPath: o.logPath });
  }

  /** The page server recorded in `ref` if it still runs (a zombie does not), else null. */
  async adopt(ref: PageServerProcessRef): Promise<MemoryServer | null> {
    const server = await PageServerProcess.adopt(ref);
    return server && !(await isZombieOrGone(ref.pid)) ? server : null;
  }
}

import { SandboxSpec } from '@wrenn/contracts';

/**
 * A sandbox's root filesystem, made for one start (create or resume) and released with it. One
 * interface for the runtimes' stores: an ext4 disk under an overlay (namespace), a device-mapper
 * snapshot (firecracker). `Source` says what to make it from (new, or a paused sandbox's files);
 * `Root` is what the runtime's driver gets.
 */
export interface RootfsStore<Source, Root> {
  /** Makes the root under the sandbox's `dir` (already there, empty on a create). */
  make(spec: SandboxSpec, dir: string, source: Source): Promise<Root>;
  /** Undoes `make` for a stopped sandbox (the files themselves stay where they are). */
  release(root: Root): Promise<void>;
  /**
   * Removes the sandbox's dir after a failed start. A resume's files go back to where they came
   * from first; if they cannot, the dir stays with them in it (recovery puts them back).
   */
  discardDir(dir: string, source: Source): Promise<void>;
}

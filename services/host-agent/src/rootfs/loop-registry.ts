import { CommandRunner } from './command-runner';

interface LoopEntry {
  device: string;
  refs: number;
}

/**
 * One read-only loop device per base image, shared by every sandbox built on it and counted:
 * the first user attaches it, the last one detaches it. Operations on one image are serialised,
 * so two sandboxes starting together never attach the same image twice.
 */
export class LoopRegistry {
  private readonly entries = new Map<string, LoopEntry>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly runner: CommandRunner) {}

  /** The image's loop device, attached read-only on first use; counts one more user. */
  acquire(imagePath: string): Promise<string> {
    return this.serial(imagePath, async () => {
      const entry = this.entries.get(imagePath);
      if (entry) {
        entry.refs++;
        return entry.device;
      }
      const device = (await this.runner.run('losetup', ['--find', '--show', '--read-only', imagePath])).trim();
      if (!device.startsWith('/dev/loop')) throw new Error(`losetup gave no loop device for ${imagePath}: "${device}"`);
      this.entries.set(imagePath, { device, refs: 1 });
      return device;
    });
  }

  /** Counts one user less; the last one detaches the device. Releasing an unknown image is a no-op. */
  release(imagePath: string): Promise<void> {
    return this.serial(imagePath, async () => {
      const entry = this.entries.get(imagePath);
      if (!entry) return;
      if (entry.refs > 1) {
        entry.refs--;
        return;
      }
      await this.runner.run('losetup', ['--detach', entry.device]);
      this.entries.delete(imagePath);
    });
  }

  refs(imagePath: string): number {
    return this.entries.get(imagePath)?.refs ?? 0;
  }

  device(imagePath: string): string | undefined {
    return this.entries.get(imagePath)?.device;
  }

  /**
   * After an agent restart: takes back the loop devices still attached to `images` with the
   * number of users each has (sandboxes re-adopted), and detaches those nobody uses any more.
   */
  async recover(users: Map<string, number>): Promise<{ kept: string[]; detached: string[] }> {
    const listed = await this.runner.run('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE,RO']);
    const devices = (JSON.parse(listed || '{"loopdevices":[]}') as { loopdevices: Array<{ name: string; 'back-file': string | null; ro: boolean | string | number }> }).loopdevices;
    const kept: string[] = [];
    const detached: string[] = [];
    for (const imagePath of new Set([...users.keys()])) {
      const attached = devices.filter((d) => d['back-file'] === imagePath && (d.ro === true || d.ro === '1' || d.ro === 1));
      const refs = users.get(imagePath) ?? 0;
      const [keep, ...extra] = refs > 0 ? attached : [undefined, ...attached];
      if (keep) {
        this.entries.set(imagePath, { device: keep.name, refs });
        kept.push(keep.name);
      }
      for (const d of extra) {
        if (!d) continue;
        await this.runner.run('losetup', ['--detach', d.name]);
        detached.push(d.name);
      }
    }
    return { kept, detached };
  }

  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }
}

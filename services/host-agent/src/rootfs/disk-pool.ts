import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { copyBlankImage, createDiskImage } from './disk-image';

export interface DiskPoolOptions {
  /** Where blank images wait (on the same filesystem as the sandboxes' dirs: a take is a rename). */
  dir: string;
  /** The size pooled images have (the host's default disk); other sizes are made on demand. */
  sizeMb: number;
  /** Blank images kept ready; 0 = no pool. */
  size: number;
  /** How long after a take the refill starts (default 200 ms): mkfs would share the CPUs with the create. */
  refillDelayMs?: number;
  logger?: { warn(obj: object, msg: string): void };
}

/**
 * Blank sandbox disks made ahead, so a create moves one in (a rename) instead of making it
 * (sparse file + mkfs) on its own time. A deleted sandbox's image is never given to another
 * sandbox: it is unlinked with its dir (every block of it freed by the filesystem, nothing for a
 * later file to read), and the delete's refill makes a new blank one here in the background.
 * Images are root's alone (0600) in a root-only dir; leftovers of an earlier agent are not
 * trusted and removed at start.
 *
 * mkfs runs once per agent start: every pooled disk is a sparse copy of that first blank image
 * (copyBlankImage), which is never mounted nor handed out, so every copy holds exactly the bytes
 * a fresh mkfs would (and nothing of any sandbox); it lives beside the pool (`<dir>.blank`).
 */
export class DiskPool {
  private readonly ready: string[] = [];
  private refilling: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  /** The blank image every pooled disk is copied from, made by the first refill. */
  private blank: Promise<string> | undefined;

  constructor(private readonly options: DiskPoolOptions) {}

  private get blankPath(): string {
    return `${this.options.dir}.blank`;
  }

  async start(): Promise<void> {
    await rm(this.options.dir, { recursive: true, force: true });
    await rm(this.blankPath, { force: true });
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    this.running = true;
    this.refill();
  }

  /** A new blank disk at `image`: a copy of the blank one, made first if need be. */
  private async makeBlank(image: string): Promise<void> {
    this.blank ??= createDiskImage(this.blankPath, this.options.sizeMb).then(
      () => this.blankPath,
      (error) => {
        this.blank = undefined;
        throw error;
      },
    );
    await copyBlankImage(await this.blank, image);
  }

  /** Moves a blank image of `sizeMb` to `target`; false when none is ready (the caller makes one). */
  async takeInto(target: string, sizeMb: number): Promise<boolean> {
    if (!this.running || sizeMb !== this.options.sizeMb) return false;
    const image = this.ready.shift();
    this.refillSoon();
    if (!image) return false;
    try {
      await rename(image, target);
      return true;
    } catch (error) {
      this.options.logger?.warn({ err: error, image }, 'pooled disk could not be taken');
      await rm(image, { force: true }).catch(() => undefined);
      return false;
    }
  }

  /** A delete freed a disk: one more blank one is made for the pool (a deleted disk is never reused). */
  released(): void {
    this.refillSoon();
  }

  get readyCount(): number {
    return this.ready.length;
  }

  private refillSoon(): void {
    if (this.timer || !this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
    }, this.options.refillDelayMs ?? 200);
    this.timer.unref();
  }

  /** One image at a time, to the pool's size. */
  private refill(): void {
    if (this.refilling || !this.running) return;
    this.refilling = (async () => {
      while (this.running && this.ready.length < this.options.size) {
        const image = join(this.options.dir, `${ulid().toLowerCase()}.img`);
        try {
          await this.makeBlank(image);
        } catch (error) {
          this.options.logger?.warn({ err: error }, 'could not make a pooled disk');
          return;
        }
        if (this.running) this.ready.push(image);
        else await rm(image, { force: true });
      }
    })().finally(() => {
      this.refilling = undefined;
    });
  }

  /** Stops refilling and removes every pooled image. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.refilling;
    this.ready.splice(0);
    for (const name of await readdir(this.options.dir).catch(() => [] as string[])) await rm(join(this.options.dir, name), { force: true, recursive: true });
    this.blank = undefined;
    await rm(this.blankPath, { force: true });
  }
}

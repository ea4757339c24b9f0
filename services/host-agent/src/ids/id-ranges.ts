import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_ID_BASE, IDS_PER_SANDBOX, idRangeOf } from '../runtime/namespace/sandbox-hardening';

/** Ranges that fit between the base and 2^32 (49,152 from the default base). */
function rangeCount(base: number): number {
  return Math.floor((2 ** 32 - 1 - base) / IDS_PER_SANDBOX);
}

/**
 * The host ids of live sandboxes, allocated host-wide: one file per range in a directory every
 * agent on the machine shares (a tmpfs under /run, so a reboot — which ends every sandbox —
 * frees them all). A range is taken by creating its file exclusively, so two agents on one
 * machine (a test run, an operator's second agent) never hand out the same range; the file
 * names its agent and sandbox, so a restarted agent frees the ranges of its dead sandboxes.
 */
export class IdRanges {
  /**
   * Where the search goes on when a hint is taken (by another agent on the machine). It only moves
   * forward, so ranges held by others are stepped over once per lap rather than on every acquire:
   * an acquire costs one exclusive create when its hint is free, and amortised O(1) creates
   * otherwise, however many ranges are taken.
   */
  private cursor = 0;
  private ready: Promise<unknown> | undefined;

  constructor(
    private readonly agentKey: string,
    private readonly dir = '/run/wrenn/id-ranges',
    private readonly base = DEFAULT_ID_BASE,
  ) {}

  /** Takes a free range, trying `hint` first (a slot index keeps ids stable and the search short). */
  async acquire(owner: string, hint = 0): Promise<{ number: number; hostRoot: number; count: number }> {
    const total = rangeCount(this.base);
    const first = ((hint % total) + total) % total;
    if (await this.take(owner, first)) return this.range(first);
    for (let i = 0; i < total; i++) {
      const number = this.cursor;
      this.cursor = (this.cursor + 1) % total;
      if (await this.take(owner, number)) return this.range(number);
    }
    throw new Error('every sandbox id range of this host is in use');
  }

  private range(number: number): { number: number; hostRoot: number; count: number } {
    return { number, ...idRangeOf(number, this.base) };
  }

  /** Creates the range's file exclusively: true when it is now ours, false when it was taken. */
  private async take(owner: string, number: number): Promise<boolean> {
    // The directory is made once; a /run emptied under a running agent is made again.
    for (let attempt = 0; ; attempt++) {
      this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).catch((error) => {
        this.ready = undefined;
        throw error;
      });
      await this.ready;
      try {
        const file = await open(join(this.dir, String(number)), 'wx', 0o600);
        await file.writeFile(`${this.agentKey} ${owner}\n`);
        await file.close();
        return true;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return false;
        if (code === 'ENOENT' && attempt === 0) {
          this.ready = undefined;
          continue;
        }
        throw error;
      }
    }
  }

  /** Gives a range back; already free is success. */
  async release(number: number): Promise<void> {
    await rm(join(this.dir, String(number)), { force: true });
  }

  /** Frees this agent's ranges whose number is not in `keep` (after a restart: the dead sandboxes'). */
  async releaseAllBut(keep: Iterable<number>): Promise<void> {
    const kept = new Set(keep);
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const number = Number(name);
      if (!Number.isInteger(number) || kept.has(number)) continue;
      const [agent] = (await readFile(join(this.dir, name), 'utf8').catch(() => '')).split(' ');
      if (agent === this.agentKey) await this.release(number);
    }
  }
}

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
  constructor(
    private readonly agentKey: string,
    private readonly dir = '/run/wrenn/id-ranges',
    private readonly base = DEFAULT_ID_BASE,
  ) {}

  /** Takes a free range, trying `hint` first (a slot index keeps ids stable and the scan short). */
  async acquire(owner: string, hint = 0): Promise<{ number: number; hostRoot: number; count: number }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const total = rangeCount(this.base);
    for (let i = 0; i < total; i++) {
      const number = (hint + i) % total;
      try {
        const file = await open(join(this.dir, String(number)), 'wx', 0o600);
        await file.writeFile(`${this.agentKey} ${owner}\n`);
        await file.close();
        return { number, ...idRangeOf(number, this.base) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw new Error('every sandbox id range of this host is in use');
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

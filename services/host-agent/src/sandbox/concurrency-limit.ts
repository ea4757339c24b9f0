/**
 * Runs at most `limit` tasks at once; the rest wait in arrival order. The orchestrator tears
 * sandboxes down through one: a burst of deletes (they answer before the host has finished) would
 * otherwise start hundreds of teardowns together, each spawning umount, losetup, ip and nft, and
 * starve the agent's own event loop — its heartbeat, execs and creates.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`a concurrency limit must be at least 1 (got ${limit})`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter (running stays counted), or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  /** Tasks running and waiting. */
  get pending(): number {
    return this.running + this.waiting.length;
  }
}

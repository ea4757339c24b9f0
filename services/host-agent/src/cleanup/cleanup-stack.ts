export type Undo = () => unknown | Promise<unknown>;

/**
 * Undo actions for a multi-step operation. Push the undo right after acquiring each resource;
 * on failure run() releases everything in reverse order, once, and reports every error it met;
 * on success the stack is kept as the resource's teardown.
 *
 * Anything pushed after run() executes at once: a resource acquired by a step that finished
 * after the operation was already being rolled back must not leak.
 */
export class CleanupStack {
  private readonly undos: Array<{ name: string; undo: Undo }> = [];
  private ran = false;

  push(name: string, undo: Undo): void {
    if (this.ran) {
      void Promise.resolve()
        .then(undo)
        .catch(() => undefined);
      return;
    }
    this.undos.push({ name, undo });
  }

  get size(): number {
    return this.undos.length;
  }

  /** Runs every undo in reverse; throws one AggregateError naming each step that failed. */
  async run(): Promise<void> {
    if (this.ran) return;
    this.ran = true;
    const errors: Error[] = [];
    for (const { name, undo } of this.undos.splice(0).reverse()) {
      try {
        await undo();
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        errors.push(new Error(`${name}: ${e.message}`, { cause: e }));
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, `cleanup failed: ${errors.map((e) => e.message).join('; ')}`);
    }
  }

  /**
   * Runs the undos after `error` and rethrows it, with the cleanup failures attached when any —
   * the original failure is what the caller needs to see first.
   */
  async rollback(error: unknown): Promise<never> {
    try {
      await this.run();
    } catch (cleanupError) {
      throw new AggregateError([error, ...(cleanupError as AggregateError).errors], `${(error as Error).message ?? error}; and ${(cleanupError as Error).message}`);
    }
    throw error;
  }
}

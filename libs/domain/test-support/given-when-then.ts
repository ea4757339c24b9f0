import { Decider, fold } from '@wrenn/domain';

/**
 * given(events).when(command).then(events) / .thenThrows(code) — the spec style for deciders.
 * Kept in the domain lib (not a test framework) so every aggregate's tests read the same.
 */
export function specFor<C, E, S>(decider: Decider<C, E, S>) {
  return (given: readonly E[]) => ({
    when(command: C) {
      const run = () => decider.decide(command, fold(decider, given));
      return {
        then(expected: readonly E[]): void {
          const actual = run();
          const a = JSON.stringify(actual);
          const b = JSON.stringify(expected);
          if (a !== b) throw new Error(`expected events ${b}\n          got ${a}`);
        },
        thenThrows(code: string): void {
          let thrown: unknown;
          try {
            const events = run();
            throw new Error(`expected error ${code}, got events ${JSON.stringify(events)}`);
          } catch (error) {
            thrown = error;
          }
          const actualCode = (thrown as { code?: string }).code;
          if (actualCode !== code) throw thrown instanceof Error && !actualCode ? thrown : new Error(`expected error ${code}, got ${actualCode}: ${(thrown as Error).message}`);
        },
      };
    },
  });
}

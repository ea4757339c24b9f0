/**
 * A create is recorded one of two ways: cold, as sandbox.requested, sandbox.scheduled and
 * sandbox.started; or, when its host had a warm sandbox ready, as one sandbox.claimed that says
 * all three at once. Whether a given create finds a warm sandbox depends on the pool's refill,
 * so the suites state their expectations in the cold spelling and read the log through these.
 */
export const COLD_START = ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started'] as const;

/** The event types with a warm claim spelled as the cold path's three. */
export function asCold(types: readonly string[]): string[] {
  return types.flatMap((type) => (type === 'sandbox.claimed' ? [...COLD_START] : [type]));
}

/** Whether an event of type `actual` says what one of type `wanted` would (a claim says requested, scheduled and started). */
export function says(actual: string, wanted: string): boolean {
  return actual === wanted || (actual === 'sandbox.claimed' && (COLD_START as readonly string[]).includes(wanted));
}

import { hostStepDuration, timedStep } from '@wrenn/observability';

/** Which order a step belongs to: a start (create, resume, a warm sandbox), its teardown, or a save (pause, template). */
export type StepPhase = 'start' | 'teardown' | 'save';

/**
 * Runs one lifecycle step and observes its seconds (by phase, step and result) on the host's
 * step histogram. One histogram observation per step and no log line: cheap enough for every
 * create, and what the throughput benchmark reads to print where a create and a delete spend
 * their time.
 */
export function timeStep<T>(phase: StepPhase, step: string, work: () => Promise<T>): Promise<T> {
  return timedStep(hostStepDuration, { phase, step }, work);
}

import { hostStepDuration, timedStep } from '@wrenn/observability';

/**
 * Which order a step belongs to: a start (create, resume, a warm sandbox), its teardown, a save
 * (pause, template), or a warm sandbox's claim by a create.
 */
export type StepPhase = 'start' | 'teardown' | 'save' | 'claim';

/**
 * Runs one lifecycle step and observes its seconds (by phase, step and result) on the host's
 * step histogram. One histogram observation per step and no log line: cheap enough for every
 * create, and what the throughput benchmark reads to print where a create and a delete spend
 * their time.
 */
export function timeStep<T>(phase: StepPhase, step: string, work: () => Promise<T>): Promise<T> {
  return timedStep(hostStepDuration, { phase, step }, work);
}

/**
 * The seconds observed so far per step of one phase (successful steps only), from the same
 * histogram: read before and after an operation, the difference is what its steps took.
 */
export async function stepTotals(phase: StepPhase): Promise<Map<string, { seconds: number; count: number }>> {
  const out = new Map<string, { seconds: number; count: number }>();
  for (const v of (await hostStepDuration.get()).values) {
    if (v.labels.phase !== phase || v.labels.result !== 'ok') continue;
    const step = String(v.labels.step);
    const total = out.get(step) ?? { seconds: 0, count: 0 };
    if (v.metricName?.endsWith('_sum')) total.seconds = v.value;
    else if (v.metricName?.endsWith('_count')) total.count = v.value;
    else continue;
    out.set(step, total);
  }
  return out;
}

/** What each step of a phase took (ms) between two stepTotals reads; steps that did not run are left out. */
export function stepDelta(before: Map<string, { seconds: number; count: number }>, after: Map<string, { seconds: number; count: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [step, a] of after) {
    const b = before.get(step) ?? { seconds: 0, count: 0 };
    if (a.count > b.count) out[step] = (a.seconds - b.seconds) * 1000;
  }
  return out;
}

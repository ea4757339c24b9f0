import { collectDefaultMetrics, Counter, Histogram, register } from 'prom-client';
import { ProvidedGauge } from './provided-gauge';
import { Series } from './series';

/**
 * The process's series, on prom-client's default registry: every service in a process adds to
 * the same registry, and one listener (or the gateway's /metrics) serves all of them.
 */
export const metricsRegistry = register;

// Node's own series (CPU, memory, event loop lag, GC, handles), once per process.
collectDefaultMetrics({ register });

/** Seconds; from a fast REST read to a long upload. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; a warm-pool create is ~50 ms, a cold Firecracker resume can take seconds. */
const LIFECYCLE_BUCKETS = [0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Seconds; one step of a host operation or one hop of the control plane, from sub-millisecond up. */
const STEP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export const httpRequestDuration = new Histogram({
  name: Series.HttpRequestDuration,
  help: 'REST request latency in the gateway, by method, route template and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: HTTP_BUCKETS,
  registers: [register],
});

export const sandboxCreateDuration = new Histogram({
  name: Series.SandboxCreateDuration,
  help: 'Scheduler: seconds from a create command to the sandbox running (result="ok") or refused/failed',
  labelNames: ['result'] as const,
  buckets: LIFECYCLE_BUCKETS,
  registers: [register],
});

export const sandboxResumeDuration = new Histogram({
  name: Series.SandboxResumeDuration,
  help: 'Scheduler: seconds from a resume command to the sandbox running again (result="ok") or refused/failed',
  labelNames: ['result'] as const,
  buckets: LIFECYCLE_BUCKETS,
  registers: [register],
});

export const hostClaimDuration = new Histogram({
  name: Series.HostClaimDuration,
  help: 'Host agent: seconds it spent on a warm claim (refusals included), by host and result',
  labelNames: ['host', 'result'] as const,
  buckets: LIFECYCLE_BUCKETS,
  registers: [register],
});

export const hostCreateDuration = new Histogram({
  name: Series.HostCreateDuration,
  help: 'Host agent: seconds it spent creating a sandbox, by host and result',
  labelNames: ['host', 'result'] as const,
  buckets: LIFECYCLE_BUCKETS,
  registers: [register],
});

export const hostResumeDuration = new Histogram({
  name: Series.HostResumeDuration,
  help: 'Host agent: seconds it spent resuming a sandbox from its snapshot, by host and result',
  labelNames: ['host', 'result'] as const,
  buckets: LIFECYCLE_BUCKETS,
  registers: [register],
});

export const hostDestroyDuration = new Histogram({
  name: Series.HostDestroyDuration,
  help: 'Host agent: seconds it spent destroying a sandbox, by host and result',
  labelNames: ['host', 'result'] as const,
  buckets: LIFECYCLE_BUCKETS,
  registers: [register],
});

/**
 * Sums and counts per step: a benchmark reads the difference across one operation to get that
 * operation's breakdown (bench/throughput.bench.mjs), a dashboard the mean and quantiles.
 */
export const hostStepDuration = new Histogram({
  name: Series.HostStepDuration,
  help: 'Host agent: seconds of one step of a sandbox start, teardown or save, by phase, step and result',
  labelNames: ['phase', 'step', 'result'] as const,
  buckets: STEP_BUCKETS,
  registers: [register],
});

export const commandDuration = new Histogram({
  name: Series.CommandDuration,
  help: 'Seconds from sending a command (gateway to a service, or to a host agent) to its answer, by service, command and result',
  labelNames: ['service', 'command', 'result'] as const,
  buckets: STEP_BUCKETS,
  registers: [register],
});

export const eventAppendDuration = new Histogram({
  name: Series.EventAppendDuration,
  help: 'Seconds to append the events one decision produced to the log, by aggregate and result',
  labelNames: ['aggregate', 'result'] as const,
  buckets: STEP_BUCKETS,
  registers: [register],
});

export const readModelWait = new Histogram({
  name: Series.ReadModelWait,
  help: "Gateway: seconds a command's answer waited for the read model to commit its last event, by projection and result",
  labelNames: ['projection', 'result'] as const,
  buckets: STEP_BUCKETS,
  registers: [register],
});

export const natsReconnects = new Counter({
  name: Series.NatsReconnects,
  help: 'Reconnects of each NATS connection of this process (by connection name)',
  labelNames: ['connection'] as const,
  registers: [register],
});

/** Sandboxes by state, read from the sandboxes read model at scrape time. */
export const sandboxesByState = new ProvidedGauge(Series.Sandboxes, 'Sandboxes by state in the sandboxes read model', ['state'] as const);

/**
 * Per projection: log sequences from its checkpoint to the newest event of its own subjects —
 * 0 when caught up, and never above the events left to apply plus those of other subjects
 * between them. Exact counts would need a consumer per projection per scrape.
 */
export const projectionLag = new ProvidedGauge(Series.ProjectionLag, "Log sequences between a projection's checkpoint and the newest event of its subjects (0 = caught up)", ['projection'] as const);

export const hostNetworkSlots = new ProvidedGauge(Series.HostNetworkSlots, 'Network slots of a host agent: used by sandboxes, pooled (built, waiting), free (not used)', ['host', 'state'] as const);
export const hostDiskBytes = new ProvidedGauge(Series.HostDiskBytes, "Bytes used and free on the file system of the host agent's state directory", ['host', 'state'] as const);
export const hostMemoryBytes = new ProvidedGauge(Series.HostMemoryBytes, 'Memory of the host: used, free (available) and reserved by its sandboxes', ['host', 'state'] as const);
export const hostSandboxes = new ProvidedGauge(Series.HostSandboxes, 'Sandboxes on a host by state: running, paused (snapshot held)', ['host', 'state'] as const);

/** Observes one operation's seconds with result ok or error, and passes its outcome on. */
export async function timed<T>(histogram: Histogram<'result'> | Histogram<'host' | 'result'>, labels: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const stop = (histogram as Histogram<string>).startTimer(labels);
  try {
    const value = await work();
    stop({ result: 'ok' });
    return value;
  } catch (error) {
    stop({ result: 'error' });
    throw error;
  }
}

/**
 * Observes one piece of work's seconds on `histogram` under `labels` plus result ok or error,
 * and passes its outcome on (a step, a hop: any histogram with a result label).
 */
export async function timedStep<T, L extends string>(histogram: Histogram<L | 'result'>, labels: Record<L, string>, work: () => Promise<T>): Promise<T> {
  const stop = histogram.startTimer(labels as Partial<Record<L | 'result', string>>);
  try {
    const value = await work();
    stop({ result: 'ok' } as Partial<Record<L | 'result', string>>);
    return value;
  } catch (error) {
    stop({ result: 'error' } as Partial<Record<L | 'result', string>>);
    throw error;
  }
}

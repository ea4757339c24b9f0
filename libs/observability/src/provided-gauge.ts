import { Counter, Gauge, register } from 'prom-client';
import { Series } from './series';

export interface GaugeSample<L extends string> {
  labels: Partial<Record<L, string>>;
  value: number;
}

/** Reads current values when Prometheus scrapes: a query, a stat of the disk, a count in memory. */
export type GaugeProvider<L extends string> = () => Promise<readonly GaugeSample<L>[]> | readonly GaugeSample<L>[];

const collectFailures = new Counter({
  name: Series.CollectFailures,
  help: 'Scrape-time collectors that failed; their series are missing from that scrape',
  labelNames: ['metric'] as const,
  registers: [register],
});

/**
 * A gauge whose values are read at scrape time from providers that come and go with the code
 * that owns the data (a projector with its database, a host agent with its runtime). Several may
 * provide at once: services running in one process share one registry. A provider that fails
 * leaves its series out of that scrape and counts a failure; the scrape itself still answers.
 */
export class ProvidedGauge<L extends string> {
  private readonly providers = new Set<GaugeProvider<L>>();

  constructor(name: string, help: string, labelNames: readonly L[]) {
    const providers = this.providers;
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [register],
      async collect() {
        this.reset();
        await Promise.all(
          [...providers].map(async (provider) => {
            try {
              for (const sample of await provider()) this.set(sample.labels, sample.value);
            } catch {
              collectFailures.inc({ metric: name });
            }
          }),
        );
      },
    });
  }

  /** Adds a provider; the function returned removes it (call it when its data source closes). */
  provide(provider: GaugeProvider<L>): () => void {
    this.providers.add(provider);
    return () => this.providers.delete(provider);
  }
}

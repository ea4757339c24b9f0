import { SANDBOX_STATUSES } from '@wrenn/domain';
import type { GaugeProvider } from '@wrenn/observability';
import { ReadModelStatsRepository } from './read-model-stats.repository';

/**
 * Sandboxes by state, counted in the sandboxes read model when Prometheus scrapes. Every state
 * is reported, 0 included, so a state that empties shows 0 rather than vanishing.
 */
export function sandboxCountsProvider(stats: ReadModelStatsRepository): GaugeProvider<'state'> {
  return async () => {
    const counts = await stats.sandboxesByState();
    return [...new Set([...SANDBOX_STATUSES, ...counts.keys()])].map((state) => ({ labels: { state }, value: counts.get(state) ?? 0 }));
  };
}

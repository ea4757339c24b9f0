import { SANDBOX_STATUSES } from '@wrenn/domain';
import type { GaugeProvider } from '@wrenn/observability';
import { DataSource } from 'typeorm';

/**
 * Sandboxes by state, counted in the sandboxes read model when Prometheus scrapes. Every state
 * is reported, 0 included, so a state that empties shows 0 rather than vanishing.
 */
export function sandboxCountsProvider(ds: DataSource): GaugeProvider<'state'> {
  return async () => {
    const rows: Array<{ state: string; count: string }> = await ds.query('SELECT state, count(*) AS count FROM sandboxes GROUP BY state');
    const counts = new Map(rows.map((r) => [r.state, Number(r.count)]));
    return [...new Set([...SANDBOX_STATUSES, ...counts.keys()])].map((state) => ({ labels: { state }, value: counts.get(state) ?? 0 }));
  };
}

import { DataSource } from 'typeorm';

/** What the projector's metrics read of the read models at scrape time. */
export class ReadModelStatsRepository {
  constructor(private readonly ds: DataSource) {}

  /** Each named projection's checkpoint (the log sequence it has applied up to); absent: none yet. */
  async checkpoints(projections: readonly string[]): Promise<Map<string, number>> {
    const rows: Array<{ projection: string; position: string }> = await this.ds.query('SELECT projection, position FROM projection_checkpoints WHERE projection = ANY($1)', [projections]);
    return new Map(rows.map((r) => [r.projection, Number(r.position)]));
  }

  /** Sandboxes per state in the sandboxes read model (states with none are absent). */
  async sandboxesByState(): Promise<Map<string, number>> {
    const rows: Array<{ state: string; count: string }> = await this.ds.query('SELECT state, count(*) AS count FROM sandboxes GROUP BY state');
    return new Map(rows.map((r) => [r.state, Number(r.count)]));
  }
}

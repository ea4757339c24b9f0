import type { Naming } from '@wrenn/contracts';
import type { Projection } from '@wrenn/eventlog';
import type { GaugeProvider } from '@wrenn/observability';
import { JetStreamManager, NatsConnection } from 'nats';
import { DataSource } from 'typeorm';

/**
 * The lag of each projection at scrape time: the last sequence of the log among the
 * projection's own subjects, minus its checkpoint. Only its own subjects: a projection of
 * sandbox events has nothing to do when template events arrive, and is not behind for them.
 */
export function projectionLagProvider(nc: NatsConnection, naming: Naming, ds: DataSource, projections: readonly Projection[]): GaugeProvider<'projection'> {
  let jsm: JetStreamManager | undefined;
  return async () => {
    jsm ??= await nc.jetstreamManager();
    const manager = jsm;
    const rows: Array<{ projection: string; position: string }> = await ds.query('SELECT projection, position FROM projection_checkpoints WHERE projection = ANY($1)', [projections.map((p) => p.name)]);
    const checkpoints = new Map(rows.map((r) => [r.projection, Number(r.position)]));
    return Promise.all(
      projections.map(async (projection) => {
        const last = await lastSequenceOf(manager, naming.stream, projection.filterSubject);
        return { labels: { projection: projection.name }, value: Math.max(0, last - (checkpoints.get(projection.name) ?? 0)) };
      }),
    );
  };
}

/** The sequence of the newest message on `subject` (wildcards allowed); 0 when there is none. */
async function lastSequenceOf(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  try {
    return (await jsm.streams.getMessage(stream, { last_by_subj: subject })).seq;
  } catch (error) {
    if (/no message found/i.test((error as Error).message ?? '')) return 0;
    throw error;
  }
}

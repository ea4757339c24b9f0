import type { Naming } from '@wrenn/contracts';
import type { Projection } from '@wrenn/projections';
import type { GaugeProvider } from '@wrenn/observability';
import { JetStreamManager, NatsConnection } from 'nats';
import { ReadModelStatsRepository } from './read-model-stats.repository';

/**
 * The lag of each projection at scrape time: the last sequence of the log among the
 * projection's own subjects, minus its checkpoint. Only its own subjects: a projection of
 * sandbox events has nothing to do when template events arrive, and is not behind for them.
 */
export function projectionLagProvider(nc: NatsConnection, naming: Naming, stats: ReadModelStatsRepository, projections: readonly Projection[]): GaugeProvider<'projection'> {
  let jsm: JetStreamManager | undefined;
  return async () => {
    jsm ??= await nc.jetstreamManager();
    const manager = jsm;
    const checkpoints = await stats.checkpoints(projections.map((p) => p.name));
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

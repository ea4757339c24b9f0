import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Naming } from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import type { Logger } from '@wrenn/logger';
import { allProjections, ProjectionRunner } from '@wrenn/projections';
import { projectionLag, sandboxesByState } from '@wrenn/observability';
import { CONFIG, DATA_SOURCE, LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';
import { DataSource } from 'typeorm';
import { projectionLagProvider } from './projection-lag';
import { sandboxCountsProvider } from './sandbox-counts';
import { ReadModelStatsRepository } from './read-model-stats.repository';

/**
 * Runs one ProjectionRunner per read model. Any number of projector replicas may run: one runner
 * per projection is active at a time (an advisory lock), the others stand by and take over when
 * it goes away.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private runners: ProjectionRunner[] = [];
  /** Removes this projector's scrape-time providers (their data source closes with it). */
  private unprovide: Array<() => void> = [];

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const projections = allProjections(this.naming);
    const stats = new ReadModelStatsRepository(this.ds);
    this.unprovide = [
      projectionLag.provide(projectionLagProvider(this.nc, this.naming, stats, projections)),
      sandboxesByState.provide(sandboxCountsProvider(stats)),
    ];
    this.runners = projections.map(
      (projection) => new ProjectionRunner(this.nc, this.naming, this.ds, this.config.databaseUrl, projection, this.log, {
        // Read-your-writes waits on these runners: poll often when the log is quiet.
        fetchExpiresMs: 500,
      }),
    );
    for (const runner of this.runners) await runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const remove of this.unprovide.splice(0)) remove();
    await Promise.all(this.runners.map((r) => r.stop()));
  }
}

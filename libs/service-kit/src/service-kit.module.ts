import { DynamicModule, Global, Inject, Module, OnApplicationShutdown, Provider } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { naming } from '@wrenn/contracts';
import { forService, loadConfig, WrennConfig } from '@wrenn/config';
import { createDataSource, ensureDatabase, migrate } from '@wrenn/db';
import { EventStore } from '@wrenn/eventlog';
import { createLogger, Logger } from '@wrenn/logger';
import { connectNats } from '@wrenn/messaging';
import { serviceIdentity } from '@wrenn/nats-auth';
import { NatsConnection } from 'nats';
import { DataSource } from 'typeorm';
import { ObservabilityLifecycle } from './observability.lifecycle';
import { RpcTracingInterceptor } from './rpc-tracing.interceptor';
import { CONFIG, DATA_SOURCE, EVENT_STORE, LOGGER, NAMING, NATS, SERVICE_NAME } from './tokens';

export interface ServiceKitOptions {
  service: string;
  /** Connect to PostgreSQL and run migrations at boot. */
  database?: boolean;
  /** Connect the event store (and make sure the stream exists). */
  eventStore?: boolean;
  /**
   * The service answers NATS commands (default true): its handlers then continue the caller's
   * trace. An HTTP-only service says false, and its requests skip Nest's interceptor chain (an
   * rxjs pipeline and async-context bindings per request), which would only pass them through.
   */
  commandHandlers?: boolean;
}

/**
 * The infrastructure every service needs — config, logger, one NATS connection, optionally
 * PostgreSQL and the event store — set up once here and closed on shutdown, so a service module
 * only declares its own controllers and providers.
 */
@Global()
@Module({})
export class ServiceKitModule implements OnApplicationShutdown {
  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  static forRoot(options: ServiceKitOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: SERVICE_NAME, useValue: options.service },
      { provide: CONFIG, useFactory: () => forService(loadConfig(), options.service) },
      { provide: NAMING, useFactory: (config: WrennConfig) => naming(config.namespace), inject: [CONFIG] },
      { provide: LOGGER, useFactory: () => createLogger(options.service) },
      {
        provide: NATS,
        useFactory: (config: WrennConfig) => connectNats(config, serviceIdentity(options.service), `wrenn-${options.service}`),
        inject: [CONFIG],
      },
    ];
    if (options.database) {
      providers.push({
        provide: DATA_SOURCE,
        useFactory: async (config: WrennConfig, log: Logger) => {
          // A service on its own role owns nothing and cannot migrate: the schema and the roles are
          // set up beforehand with the administrative role (`wrenn db setup`, or `wrenn start`).
          if (config.ownDatabaseRole) {
            const ds = createDataSource(config.databaseUrl);
            await ds.initialize();
            return ds;
          }
          await ensureDatabase(config.databaseUrl);
          const ds = createDataSource(config.databaseUrl);
          await ds.initialize();
          const applied = await migrate(ds);
          if (applied.length) log.info({ applied }, 'migrations applied');
          return ds;
        },
        inject: [CONFIG, LOGGER],
      });
    }
    if (options.eventStore) {
      providers.push({
        provide: EVENT_STORE,
        useFactory: async (nc: NatsConnection, config: WrennConfig) => {
          const store = await EventStore.create(nc, naming(config.namespace));
          await store.ensureStream();
          return store;
        },
        inject: [NATS, CONFIG],
      });
    }
    // Metrics listener and tracing for every service; command handlers continue the caller's trace.
    const observability: Provider[] = [ObservabilityLifecycle];
    if (options.commandHandlers !== false) observability.push({ provide: APP_INTERCEPTOR, useClass: RpcTracingInterceptor });
    return { module: ServiceKitModule, providers: [...providers, ...observability], exports: providers };
  }

  async onApplicationShutdown(): Promise<void> {
    // Data sources are closed by their own provider owners below; NATS last so in-flight
    // replies can still leave.
    try {
      await this.nc.drain();
    } catch (error) {
      this.log.debug({ err: error }, 'nats drain');
    }
  }
}

/** Closes the data source on shutdown; registered by services that use the database. */
@Module({})
export class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

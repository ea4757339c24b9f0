import { NestFactory } from '@nestjs/core';
import { naming, ServiceName } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { natsServerOptions } from '@wrenn/messaging';
import { serviceIdentity } from '@wrenn/nats-auth';
import { countReconnectEvents } from '@wrenn/observability';
import { RunningService } from '@wrenn/service-kit';
import { SnapshotCatalogModule } from './snapshot-catalog.module';

export async function bootstrapSnapshotCatalog(): Promise<RunningService> {
  const config = loadConfig();
  const app = await NestFactory.createMicroservice(SnapshotCatalogModule, {
    ...natsServerOptions(config, serviceIdentity('snapshot-catalog'), naming(config.namespace).queueGroup(ServiceName.SnapshotCatalog), 'wrenn-snapshot-catalog-rpc'),
    logger: new NestLoggerAdapter(createLogger('snapshot-catalog')),
  });
  countReconnectEvents(app, 'wrenn-snapshot-catalog-rpc');
  await app.listen();
  return { name: ServiceName.SnapshotCatalog, close: () => app.close() };
}

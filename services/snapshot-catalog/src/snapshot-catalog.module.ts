import { Module } from '@nestjs/common';
import { Naming } from '@wrenn/contracts';
import { HostClient, HostHeartbeats } from '@wrenn/messaging';
import { DataSourceCloser, NAMING, NATS, ServiceKitModule } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';
import { StatusController } from './controllers/status.controller';
import { TemplateCommandsController } from './controllers/template-commands.controller';
import { CatalogReadsRepository } from './repositories/catalog-reads.repository';
import { TemplateNamesRepository } from './repositories/template-names.repository';
import { TemplateCatalogService } from './services/template-catalog.service';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'snapshot-catalog', database: true, eventStore: true }), DataSourceCloser],
  controllers: [StatusController, TemplateCommandsController],
  providers: [
    HostClient.provider(NATS, NAMING),
    { provide: HostHeartbeats, useFactory: (nc: NatsConnection, naming: Naming) => new HostHeartbeats(nc, naming.hostsBucket), inject: [NATS, NAMING] },
    TemplateNamesRepository,
    CatalogReadsRepository,
    TemplateCatalogService,
  ],
})
export class SnapshotCatalogModule {}

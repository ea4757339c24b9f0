import { Module } from '@nestjs/common';
import { DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { StatusController } from './controllers/status.controller';
import { TemplateCommandsController } from './controllers/template-commands.controller';
import { HostGateway } from './hosts/host-gateway';
import { CatalogReadsRepository } from './repositories/catalog-reads.repository';
import { TemplateNamesRepository } from './repositories/template-names.repository';
import { TemplateCatalogService } from './services/template-catalog.service';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'snapshot-catalog', database: true, eventStore: true }), DataSourceCloser],
  controllers: [StatusController, TemplateCommandsController],
  providers: [HostGateway, TemplateNamesRepository, CatalogReadsRepository, TemplateCatalogService],
})
export class SnapshotCatalogModule {}

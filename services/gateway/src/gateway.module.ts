import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ClientProxyFactory } from '@nestjs/microservices';
import { WrennConfig } from '@wrenn/config';
import { natsClientOptions } from '@wrenn/messaging';
import { CONFIG, DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { AuditController } from './controllers/audit.controller';
import { EventsController } from './controllers/events.controller';
import { FilesController } from './controllers/files.controller';
import { HealthController } from './controllers/health.controller';
import { DataPlaneClients } from './data-plane/data-plane.clients';
import { SandboxDataService } from './services/sandbox-data.service';
import { SandboxesController } from './controllers/sandboxes.controller';
import { UsageController } from './controllers/usage.controller';
import { ErrorFilter } from './errors/error.filter';
import { AuditRepository } from './repositories/audit.repository';
import { SandboxRepository } from './repositories/sandbox.repository';
import { UsageRepository } from './repositories/usage.repository';
import { AuditService } from './services/audit.service';
import { EventStreamService } from './services/event-stream.service';
import { USAGE_CLOCK, UsageService } from './services/usage.service';
import { SandboxesService, SCHEDULER_CLIENT } from './services/sandboxes.service';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'gateway', database: true }), DataSourceCloser],
  controllers: [HealthController, SandboxesController, FilesController, AuditController, UsageController, EventsController],
  providers: [
    { provide: APP_FILTER, useClass: ErrorFilter },
    {
      provide: SCHEDULER_CLIENT,
      useFactory: (config: WrennConfig) => ClientProxyFactory.create(natsClientOptions(config.natsUrl, 'wrenn-gateway')),
      inject: [CONFIG],
    },
    SandboxRepository,
    SandboxesService,
    SandboxDataService,
    DataPlaneClients,
    AuditRepository,
    AuditService,
    UsageRepository,
    UsageService,
    { provide: USAGE_CLOCK, useValue: () => Date.now() },
    EventStreamService,
  ],
})
export class GatewayModule {}

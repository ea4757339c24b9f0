import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ClientProxyFactory } from '@nestjs/microservices';
import { WrennConfig } from '@wrenn/config';
import { natsClientOptions } from '@wrenn/messaging';
import { CONFIG, DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { HealthController } from './controllers/health.controller';
import { SandboxesController } from './controllers/sandboxes.controller';
import { ErrorFilter } from './errors/error.filter';
import { SandboxRepository } from './repositories/sandbox.repository';
import { SandboxesService, SCHEDULER_CLIENT } from './services/sandboxes.service';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'gateway', database: true }), DataSourceCloser],
  controllers: [HealthController, SandboxesController],
  providers: [
    { provide: APP_FILTER, useClass: ErrorFilter },
    {
      provide: SCHEDULER_CLIENT,
      useFactory: (config: WrennConfig) => ClientProxyFactory.create(natsClientOptions(config.natsUrl, 'wrenn-gateway')),
      inject: [CONFIG],
    },
    SandboxRepository,
    SandboxesService,
  ],
})
export class GatewayModule {}

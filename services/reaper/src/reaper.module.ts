import { Module } from '@nestjs/common';
import { ClientProxyFactory } from '@nestjs/microservices';
import { WrennConfig } from '@wrenn/config';
import { natsClientOptions } from '@wrenn/messaging';
import { serviceIdentity } from '@wrenn/nats-auth';
import { CONFIG, DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { ReaperService, SCHEDULER_CLIENT } from './reaper.service';
import { ReconcileRepository } from './repositories/reconcile.repository';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'reaper', database: true, eventStore: true }), DataSourceCloser],
  providers: [
    {
      provide: SCHEDULER_CLIENT,
      useFactory: (config: WrennConfig) => ClientProxyFactory.create(natsClientOptions(config, serviceIdentity('reaper'), 'wrenn-reaper')),
      inject: [CONFIG],
    },
    ReconcileRepository,
    ReaperService,
  ],
})
export class ReaperModule {}

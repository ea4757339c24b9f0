import { Module } from '@nestjs/common';
import { HostClient } from '@wrenn/messaging';
import { DataSourceCloser, NAMING, NATS, ServiceKitModule } from '@wrenn/service-kit';
import { QuotaService } from './quotas/quota.service';
import { SandboxCommandsController } from './controllers/sandbox-commands.controller';
import { HostDirectory } from './hosts/host-directory';
import { SandboxLifecycleService } from './services/sandbox-lifecycle.service';
import { TemplateLookup } from './templates/template-lookup';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'sandbox-scheduler', database: true, eventStore: true }), DataSourceCloser],
  controllers: [SandboxCommandsController],
  providers: [HostDirectory, HostClient.provider(NATS, NAMING), TemplateLookup, SandboxLifecycleService, QuotaService],
})
export class SandboxSchedulerModule {}

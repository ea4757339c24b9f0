import { Module } from '@nestjs/common';
import { DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { QuotaService } from './quotas/quota.service';
import { SandboxCommandsController } from './controllers/sandbox-commands.controller';
import { HostClient } from './hosts/host-client';
import { HostDirectory } from './hosts/host-directory';
import { SandboxLifecycleService } from './services/sandbox-lifecycle.service';
import { TemplateLookup } from './templates/template-lookup';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'sandbox-scheduler', database: true, eventStore: true }), DataSourceCloser],
  controllers: [SandboxCommandsController],
  providers: [HostDirectory, HostClient, TemplateLookup, SandboxLifecycleService, QuotaService],
})
export class SandboxSchedulerModule {}

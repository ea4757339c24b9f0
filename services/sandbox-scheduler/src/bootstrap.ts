import { NestFactory } from '@nestjs/core';
import { ServiceName } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { natsServerOptions } from '@wrenn/messaging';
import { serviceIdentity } from '@wrenn/nats-auth';
import { countReconnectEvents } from '@wrenn/observability';
import { RunningService } from '@wrenn/service-kit';
import { naming } from '@wrenn/contracts';
import { SandboxSchedulerModule } from './sandbox-scheduler.module';

export async function bootstrapSandboxScheduler(): Promise<RunningService> {
  const config = loadConfig();
  const app = await NestFactory.createMicroservice(
    SandboxSchedulerModule,
    {
      ...natsServerOptions(config, serviceIdentity('sandbox-scheduler'), naming(config.namespace).queueGroup(ServiceName.SandboxScheduler), 'wrenn-sandbox-scheduler-rpc'),
      logger: new NestLoggerAdapter(createLogger('sandbox-scheduler')),
    },
  );
  countReconnectEvents(app, 'wrenn-sandbox-scheduler-rpc');
  await app.listen();
  return { name: ServiceName.SandboxScheduler, close: () => app.close() };
}

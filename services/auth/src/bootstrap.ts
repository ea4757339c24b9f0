import { NestFactory } from '@nestjs/core';
import { naming, ServiceName } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { natsServerOptions } from '@wrenn/messaging';
import { serviceIdentity } from '@wrenn/nats-auth';
import { countReconnectEvents } from '@wrenn/observability';
import { RunningService } from '@wrenn/service-kit';
import { AuthModule } from './auth.module';

export async function bootstrapAuth(): Promise<RunningService> {
  const config = loadConfig();
  const app = await NestFactory.createMicroservice(AuthModule, {
    ...natsServerOptions(config, serviceIdentity('auth'), naming(config.namespace).queueGroup(ServiceName.Auth), 'wrenn-auth-rpc'),
    logger: new NestLoggerAdapter(createLogger('auth')),
  });
  countReconnectEvents(app, 'wrenn-auth-rpc');
  await app.listen();
  return { name: ServiceName.Auth, close: () => app.close() };
}

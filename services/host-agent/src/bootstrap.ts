import { NestFactory } from '@nestjs/core';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { RunningService } from '@wrenn/service-kit';
import { HostAgentModule } from './host-agent.module';

/** The host agent as a Nest application context (the module boots the agent and closes it). */
export async function bootstrapHostAgent(): Promise<RunningService> {
  const app = await NestFactory.createApplicationContext(HostAgentModule, { logger: new NestLoggerAdapter(createLogger('host-agent')) });
  await app.init();
  return { name: 'host-agent', close: () => app.close() };
}

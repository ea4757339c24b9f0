import { NestFactory } from '@nestjs/core';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { RunningService } from '@wrenn/service-kit';
import { ReaperModule } from './reaper.module';

export async function bootstrapReaper(): Promise<RunningService> {
  const app = await NestFactory.createApplicationContext(ReaperModule, { logger: new NestLoggerAdapter(createLogger('reaper')) });
  await app.init();
  return { name: 'reaper', close: () => app.close() };
}

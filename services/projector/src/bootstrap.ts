import { NestFactory } from '@nestjs/core';
import { ServiceName } from '@wrenn/contracts';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { RunningService } from '@wrenn/service-kit';
import { ProjectorModule } from './projector.module';

export async function bootstrapProjector(): Promise<RunningService> {
  const app = await NestFactory.createApplicationContext(ProjectorModule, { logger: new NestLoggerAdapter(createLogger('projector')) });
  await app.init();
  return { name: ServiceName.Projector, close: () => app.close() };
}

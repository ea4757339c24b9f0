import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '@wrenn/config';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { RunningService } from '@wrenn/service-kit';
import { validationPipe } from './errors/validation';
import { GatewayModule } from './gateway.module';

export interface RunningGateway extends RunningService {
  url: string;
  port: number;
}

export async function bootstrapGateway(options: { port?: number; host?: string } = {}): Promise<RunningGateway> {
  const config = loadConfig();
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule, {
    logger: new NestLoggerAdapter(createLogger('gateway')),
    bodyParser: true,
  });
  app.useBodyParser('json', { limit: '1mb' });
  app.useGlobalPipes(validationPipe());
  const host = options.host ?? process.env.WRENN_BIND ?? '0.0.0.0';
  await app.listen(options.port ?? config.port, host);
  const address = app.getHttpServer().address() as { port: number };
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host;
  return { name: 'gateway', port: address.port, url: `http://${shown}:${address.port}`, close: () => app.close() };
}

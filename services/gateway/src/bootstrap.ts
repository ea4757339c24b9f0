import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '@wrenn/config';
import { assertScope } from './auth/key-scope';
import { createLogger, NestLoggerAdapter } from '@wrenn/logger';
import { httpObserver } from '@wrenn/observability';
import { RunningService } from '@wrenn/service-kit';
import { validationPipe } from './errors/validation';
import { AppModule } from './app.module';
import { SWAGGER_UI_DIR, TEST_UI_DIR } from './docs/docs.paths';
import { ApiKeyAuthenticator } from './auth/api-key.authenticator';
import { attachExecStream } from './exec-stream/exec-stream.socket';
import { StreamSlots } from './services/stream-slots';
import { RequestRateLimiter } from './auth/request-rate.limiter';
import { SandboxDataService } from './services/sandbox-data.service';
import { attachSandboxTrafficForwarder, SandboxTrafficForwarder } from './e2b/sandbox-traffic.forwarder';

export interface RunningGateway extends RunningService {
  url: string;
  port: number;
  /** The Nest application, for tests that reach one of its providers (`app.get(X)`). */
  app: NestExpressApplication;
}

/** WRENN_TRUST_PROXY as Express takes it: '' → false, a number → that many hops, else the list. */
export function trustProxySetting(raw: string): boolean | number | string[] {
  const value = raw.trim();
  if (value === '' || value === 'false') return false;
  if (/^[0-9]+$/.test(value)) return Number(value);
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

export async function bootstrapGateway(options: { port?: number; host?: string } = {}): Promise<RunningGateway> {
  const config = loadConfig();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    logger: new NestLoggerAdapter(createLogger('gateway')),
    bodyParser: false,
  });
  // First: latency of every request by route template, its trace span, and GET /metrics.
  app.use(httpObserver('gateway'));
  // JSON bodies everywhere but file uploads, whose bodies stream through untouched whatever
  // their content type.
  app.useBodyParser('json', { limit: '1mb', type: (req: { url?: string; headers: Record<string, unknown> }) => !/\/files(\?|$)/.test(req.url ?? '') && String(req.headers['content-type'] ?? '').includes('json') });
  app.useGlobalPipes(validationPipe());
  // X-Forwarded-For is believed only from the proxies the operator names; by default none, so a
  // client cannot pick the address its rate limits are counted under.
  app.set('trust proxy', trustProxySetting(config.edge.trustProxy));
  // Static assets of /docs (Swagger UI, from the installed package) and /test; the pages
  // themselves are routes of DocsController.
  app.useStaticAssets(SWAGGER_UI_DIR, { prefix: '/docs/', index: false, redirect: false });
  app.useStaticAssets(TEST_UI_DIR, { prefix: '/test/', index: false, redirect: false });
  const host = options.host ?? config.bindHost;
  const apiKeys = app.get(ApiKeyAuthenticator);
  const slots = app.get(StreamSlots);
  const rate = app.get(RequestRateLimiter);
  // An upgrade request never passes through Express, so its address is read with Express's own
  // request prototype (and thus its trust-proxy setting), the same as req.ip of a REST call.
  const express = app.getHttpAdapter().getInstance() as { request: object };
  const clientAddress = (req: IncomingMessage): string | undefined =>
    (Object.create(express.request, { headers: { value: req.headers }, socket: { value: req.socket }, connection: { value: req.socket } }) as { ip?: string }).ip;
  attachExecStream(app.getHttpServer(), app.get(SandboxDataService), async (req) => {
    const caller = await apiKeys.authenticate(req.headers);
    assertScope(caller.scope, 'GET', new URL(req.url ?? '/', 'http://x').pathname, true);
    await rate.hit(caller, clientAddress(req));
    return caller;
  }, createLogger('gateway'), {
    controlPerSec: config.edge.execControlPerSec,
    controlQueueMax: config.edge.execControlQueueMax,
    slot: (caller) => slots.acquire(caller),
  });
  attachSandboxTrafficForwarder(app.getHttpServer(), app.get(SandboxTrafficForwarder));
  await app.listen(options.port ?? config.port, host);
  const address = app.getHttpServer().address() as { port: number };
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host;
  return { name: 'gateway', port: address.port, url: `http://${shown}:${address.port}`, app, close: () => app.close() };
}

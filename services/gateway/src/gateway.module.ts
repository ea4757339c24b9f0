import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { ClientProxyFactory } from '@nestjs/microservices';
import { WrennConfig } from '@wrenn/config';
import { natsClientOptions } from '@wrenn/messaging';
import { countReconnectEvents, ReconnectEventSource } from '@wrenn/observability';
import { serviceIdentity } from '@wrenn/nats-auth';

const GATEWAY = serviceIdentity('gateway');
import { CONFIG, DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { AccessGuard } from './auth/access.guard';
import { RequestRateLimiter } from './auth/request-rate.limiter';
import { ApiKeyAuthenticator } from './auth/api-key.authenticator';
import { ApiKeyCache } from './auth/api-key.cache';
import { ApiKeyInvalidationsListener } from './auth/api-key-invalidations.listener';
import { JwtStrategy } from './auth/jwt.strategy';
import { ApiKeysController } from './controllers/api-keys.controller';
import { AuthController } from './controllers/auth.controller';
import { DocsController } from './controllers/docs.controller';
import { AuditController } from './controllers/audit.controller';
import { EventsController } from './controllers/events.controller';
import { FilesController } from './controllers/files.controller';
import { HealthController } from './controllers/health.controller';
import { DataPlaneClients } from './data-plane/data-plane.clients';
import { HostTokens } from './data-plane/host-tokens';
import { SandboxDataService } from './services/sandbox-data.service';
import { SandboxesController } from './controllers/sandboxes.controller';
import { UsageController } from './controllers/usage.controller';
import { QuotasController } from './controllers/quotas.controller';
import { ErrorFilter } from './errors/error.filter';
import { AuditRepository } from './repositories/audit.repository';
import { DatabaseHealthRepository } from './repositories/database-health.repository';
import { SandboxRepository } from './repositories/sandbox.repository';
import { AUTH_CLIENT, AuthClient } from './services/auth.client';
import { UsageRepository } from './repositories/usage.repository';
import { AuditService } from './services/audit.service';
import { EventStreamService } from './services/event-stream.service';
import { StreamSlots } from './services/stream-slots';
import { USAGE_CLOCK, UsageService } from './services/usage.service';
import { ReadYourWrites } from './services/read-your-writes';
import { SandboxesService, SCHEDULER_CLIENT } from './services/sandboxes.service';
import { RunningSandboxesCache } from './services/running-sandboxes.cache';
import { ActivityRecorder } from './activity/activity.recorder';
import { DeprecatedSnapshotsController, markDeprecated, TemplatesController } from './controllers/templates.controller';
import { TemplateRepository } from './repositories/template.repository';
import { CATALOG_CLIENT, TemplatesService } from './services/templates.service';

/** Nest's NATS clients report reconnects as events: counted like every other connection's. */
function withReconnectCount<C>(client: C, name: string): C {
  countReconnectEvents(client as unknown as ReconnectEventSource, name);
  return client;
}

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'gateway', database: true, commandHandlers: false }), DataSourceCloser, PassportModule],
  controllers: [
    HealthController,
    AuthController,
    ApiKeysController,
    SandboxesController,
    TemplatesController,
    DeprecatedSnapshotsController,
    FilesController,
    AuditController,
    UsageController,
    QuotasController,
    EventsController,
    DocsController,
  ],
  providers: [
    { provide: APP_FILTER, useClass: ErrorFilter },
    // Default-deny: every route needs an API key unless marked @Public() or @UserAuth().
    { provide: APP_GUARD, useClass: AccessGuard },
    {
      provide: SCHEDULER_CLIENT,
      useFactory: (config: WrennConfig) => withReconnectCount(ClientProxyFactory.create(natsClientOptions(config, GATEWAY, 'wrenn-gateway')), 'wrenn-gateway'),
      inject: [CONFIG],
    },
    {
      provide: CATALOG_CLIENT,
      useFactory: (config: WrennConfig) => withReconnectCount(ClientProxyFactory.create(natsClientOptions(config, GATEWAY, 'wrenn-gateway-catalog')), 'wrenn-gateway-catalog'),
      inject: [CONFIG],
    },
    {
      provide: AUTH_CLIENT,
      useFactory: (config: WrennConfig) => withReconnectCount(ClientProxyFactory.create(natsClientOptions(config, GATEWAY, 'wrenn-gateway-auth')), 'wrenn-gateway-auth'),
      inject: [CONFIG],
    },
    AuthClient,
    { provide: ApiKeyCache, useFactory: (config: WrennConfig) => new ApiKeyCache(config.edge.apiKeyCacheTtlMs), inject: [CONFIG] },
    ApiKeyInvalidationsListener,
    ApiKeyAuthenticator,
    JwtStrategy,
    SandboxRepository,
    TemplateRepository,
    ActivityRecorder,
    ReadYourWrites,
    SandboxesService,
    RunningSandboxesCache,
    TemplatesService,
    SandboxDataService,
    HostTokens,
    DataPlaneClients,
    AuditRepository,
    DatabaseHealthRepository,
    AuditService,
    UsageRepository,
    UsageService,
    { provide: USAGE_CLOCK, useValue: () => Date.now() },
    EventStreamService,
    StreamSlots,
    RequestRateLimiter,
  ],
  exports: [SandboxesService, SandboxDataService, SandboxRepository, ActivityRecorder, HostTokens, RunningSandboxesCache],
})
export class GatewayModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // Before the guard and validation, so refusals (401, 400) carry the headers too.
    consumer.apply(markDeprecated).forRoutes(DeprecatedSnapshotsController);
  }
}

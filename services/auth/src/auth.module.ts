import { Module } from '@nestjs/common';
import { DataSourceCloser, ServiceKitModule } from '@wrenn/service-kit';
import { AuthCommandsController } from './controllers/auth-commands.controller';
import { OutboxRelay } from './outbox/outbox.relay';
import { LoginRateLimiter } from './rate-limit/login-rate-limiter';
import { ApiKeyRepository } from './repositories/api-key.repository';
import { IdentityOutboxRepository } from './repositories/identity-outbox.repository';
import { IdentityRepository } from './repositories/identity.repository';
import { ApiKeyInvalidations } from './services/api-key-invalidations';
import { ApiKeysService } from './services/api-keys.service';
import { IdentityService } from './services/identity.service';
import { StatusController } from './status.controller';
import { JwtIssuer } from './tokens/jwt-issuer';

@Module({
  imports: [ServiceKitModule.forRoot({ service: 'auth', database: true, eventStore: true }), DataSourceCloser],
  controllers: [StatusController, AuthCommandsController],
  providers: [IdentityRepository, ApiKeyRepository, IdentityOutboxRepository, LoginRateLimiter, JwtIssuer, OutboxRelay, IdentityService, ApiKeyInvalidations, ApiKeysService],
})
export class AuthModule {}

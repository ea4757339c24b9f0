import { Module } from '@nestjs/common';
import { E2bModule } from './e2b/e2b.module';
import { GatewayModule } from './gateway.module';

/**
 * The gateway application: Wrenn's own API and the E2B drop-in built on it. The E2B module
 * imports the gateway's use cases, so the gateway module itself knows nothing of E2B.
 */
@Module({
  imports: [GatewayModule, E2bModule],
})
export class AppModule {}

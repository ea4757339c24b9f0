import { Module } from '@nestjs/common';
import { GatewayModule } from '../gateway.module';
import { E2bSandboxesController } from './e2b-sandboxes.controller';
import { E2bSandboxesService } from './e2b-sandboxes.service';
import { EnvdAccessTokens } from './envd-access-tokens';
import { SandboxTrafficForwarder } from './sandbox-traffic.forwarder';

/**
 * The E2B drop-in: E2B's REST surface under /e2b and the envd proxy behind E2B_SANDBOX_URL, both
 * on Wrenn's own sandbox use cases (imported from the gateway).
 */
@Module({
  imports: [GatewayModule],
  controllers: [E2bSandboxesController],
  providers: [EnvdAccessTokens, SandboxTrafficForwarder, E2bSandboxesService],
  exports: [SandboxTrafficForwarder],
})
export class E2bModule {}

import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { HostAgent } from './host-agent';

const HOST_AGENT = 'wrenn.host-agent';

/**
 * The host agent as a Nest application context, like every other service. Its subjects carry
 * the host id (host.<hostId>.<op>), which static @MessagePattern routes cannot express, so the
 * agent subscribes itself rather than through a Nest transport.
 */
@Module({
  providers: [{ provide: HOST_AGENT, useFactory: () => HostAgent.boot() }],
})
export class HostAgentModule implements OnApplicationShutdown {
  constructor(@Inject(HOST_AGENT) private readonly agent: HostAgent) {}

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }
}

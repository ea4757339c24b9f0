import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { variable } from '@wrenn/config';
import { naming, ok, Reply, ServiceName } from '@wrenn/contracts';

/** Liveness over the control plane: the gateway's health and the CLI ask every service for it. */
@Controller()
export class StatusController {
  private readonly startedAt = new Date().toISOString();

  @MessagePattern(naming(variable('WRENN_NS')).commandSubject(ServiceName.Auth, 'status'))
  status(): Reply<{ service: string; startedAt: string }> {
    return ok({ service: ServiceName.Auth, startedAt: this.startedAt });
  }
}

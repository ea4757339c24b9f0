import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { WrennConfig } from '@wrenn/config';
import { Naming } from '@wrenn/contracts';
import { CONFIG, HostTokenSigner, loadSigningKey, NAMING, NATS } from '@wrenn/service-kit';
import { NatsConnection } from 'nats';

/**
 * Mints the host token every data-plane and envd-proxy call carries: one per call, for the host
 * and the sandbox it addresses. The signing key is configured or generated once into the secrets
 * bucket; loading it also publishes its public half for the host agents, so it happens at boot,
 * before any call can need it.
 */
@Injectable()
export class HostTokens implements OnApplicationBootstrap {
  private signer: Promise<HostTokenSigner> | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.load();
  }

  private load(): Promise<HostTokenSigner> {
    this.signer ??= loadSigningKey(this.nc, this.naming, this.config.dataPlaneAuth.signingKey)
      .then((key) => new HostTokenSigner(key, this.config.dataPlaneAuth))
      .catch((error) => {
        this.signer = undefined;
        throw error;
      });
    return this.signer;
  }

  async mint(hostId: string, sandboxId: string): Promise<string> {
    return (await this.load()).mint(hostId, sandboxId);
  }
}

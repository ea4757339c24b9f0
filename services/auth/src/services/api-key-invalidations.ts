import { Inject, Injectable } from '@nestjs/common';
import { ApiKeyInvalidation, Naming } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { JSONCodec, NatsConnection } from 'nats';

const codec = JSONCodec<ApiKeyInvalidation>();

/**
 * Tells every gateway that cached verdicts about some keys are stale. Sent after the change
 * commits and flushed before the revoking call is answered, so by the time the caller hears
 * "revoked" the server already holds the message for every gateway. A gateway that misses it
 * (its connection dropped) clears its whole cache on reconnect; one that never hears it for
 * another reason (this publish failed) keeps the key at most WRENN_API_KEY_CACHE_TTL_MS.
 */
@Injectable()
export class ApiKeyInvalidations {
  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async publish(invalidation: ApiKeyInvalidation): Promise<void> {
    try {
      this.nc.publish(this.naming.apiKeyInvalidations, codec.encode(invalidation));
      await this.nc.flush();
    } catch (error) {
      this.log.error({ err: error, ...invalidation }, 'could not announce an API key invalidation; gateways keep their cached verdict until it expires');
    }
  }
}

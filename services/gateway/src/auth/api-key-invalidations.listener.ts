import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ApiKeyInvalidation, Naming } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { JSONCodec, NatsConnection, Subscription } from 'nats';
import { ApiKeyCache } from './api-key.cache';

const codec = JSONCodec<ApiKeyInvalidation>();

/**
 * Hears the auth service's API key invalidations and evicts them from this gateway's cache. A
 * message published while the connection was down is lost for good, so a disconnect suspends
 * the cache (nothing served from it) and a reconnect resumes it empty; a subscription that ends
 * for any other reason (a permission refusal, a drain) turns the cache off for this process.
 */
@Injectable()
export class ApiKeyInvalidationsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscription?: Subscription;

  constructor(
    private readonly cache: ApiKeyCache,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.cache.enabled) return;
    void this.watchConnection();
    const subscription = this.nc.subscribe(this.naming.apiKeyInvalidations, {
      callback: (error, msg) => {
        if (error) return;
        let invalidation: ApiKeyInvalidation;
        try {
          invalidation = codec.decode(msg.data);
        } catch {
          // Unreadable: the safe reading of "something about keys changed" is "forget them all".
          this.cache.clear();
          return;
        }
        this.cache.evict(invalidation);
      },
    });
    this.subscription = subscription;
    void subscription.closed.then(
      () => this.stopCaching('the API key invalidation subscription ended'),
      (error: unknown) => this.stopCaching('the API key invalidation subscription failed', error),
    );
    // The server holds the subscription before the first verdict is cached (the HTTP server
    // listens after bootstrap), so no revocation can slip between the two.
    await this.nc.flush();
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.cache.suspend();
      else if (status.type === 'reconnect') this.cache.resume();
    }
  }

  private stopCaching(why: string, error?: unknown): void {
    if (!this.subscription) return;
    this.subscription = undefined;
    this.cache.suspend();
    this.log.error({ err: error }, `${why}: API keys are verified on every call from now on`);
  }
}

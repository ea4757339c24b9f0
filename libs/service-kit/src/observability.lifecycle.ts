import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { WrennConfig } from '@wrenn/config';
import type { Logger } from '@wrenn/logger';
import { acquireMetricsListener, initTracing, MetricsListener } from '@wrenn/observability';
import { CONFIG, LOGGER, SERVICE_NAME } from './tokens';

/**
 * Per service: installs tracing (once per process; off without an OTLP endpoint) before any
 * command is served, and holds a share of the process's metrics listener while it runs.
 */
@Injectable()
export class ObservabilityLifecycle implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private listener: MetricsListener | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(SERVICE_NAME) private readonly service: string,
  ) {}

  onModuleInit(): void {
    startTracing(this.config);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.listener = await startMetricsListener(this.config, this.log, this.service);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener?.release();
  }
}

/** Tracing as configured (for services that are not Nest modules, like the host agent, too). */
export function startTracing(config: WrennConfig): boolean {
  const o = config.observability;
  return initTracing({ serviceName: o.traceServiceName, otlpTracesEndpoint: o.otlpTracesEndpoint, otlpHeaders: o.otlpHeaders, sampleRatio: o.traceSampleRatio });
}

/** A share of the process's metrics listener, as configured; undefined when metrics are off. */
export async function startMetricsListener(config: WrennConfig, log: Logger, service: string): Promise<MetricsListener | undefined> {
  const o = config.observability;
  if (!o.metricsEnabled) return undefined;
  const listener = await acquireMetricsListener({ host: o.metricsHost, port: o.metricsPort }, (error) =>
    log.error({ err: error, service, host: o.metricsHost, port: o.metricsPort }, 'metrics listener could not start; the service runs without it (set WRENN_METRICS_PORT)'),
  );
  if (listener.url && listener.opened) log.info({ url: listener.url }, 'metrics listening');
  return listener;
}

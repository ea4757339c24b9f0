import { variable } from '@wrenn/config';
import pino, { Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * One structured logger for the platform. Every line is JSON with the service name; callers add
 * sandboxId, hostId and correlationId with child loggers so a sandbox's story can be grepped.
 */
let root: Logger | undefined;

export function rootLogger(): Logger {
  root ??= pino({
    level: variable('LOG_LEVEL'),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  return root;
}

export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ service, ...bindings });
}

/** Adapts the logger to NestJS's LoggerService so framework messages share the same format. */
export class NestLoggerAdapter {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) { this.logger.debug({ context }, String(message)); }
  error(message: unknown, trace?: string, context?: string) { this.logger.error({ context, trace }, String(message)); }
  warn(message: unknown, context?: string) { this.logger.warn({ context }, String(message)); }
  debug(message: unknown, context?: string) { this.logger.debug({ context }, String(message)); }
  verbose(message: unknown, context?: string) { this.logger.trace({ context }, String(message)); }
}

import { createLogger } from '@wrenn/logger';
import { RunningService } from './running-service';

/**
 * Entry point for `node dist/main.js` of one service: boots it, and shuts it down cleanly on
 * SIGINT/SIGTERM (a second signal forces exit).
 */
export function runStandalone(name: string, boot: () => Promise<RunningService>): void {
  const log = createLogger(name);
  let service: RunningService | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    await service?.close().catch((error) => log.error({ err: error }, 'shutdown failed'));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  boot()
    .then((s) => {
      service = s;
      log.info('service started');
    })
    .catch((error) => {
      log.fatal({ err: error }, 'service failed to start');
      process.exit(1);
    });
}

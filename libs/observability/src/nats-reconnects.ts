import type { NatsConnection } from 'nats';
import { natsReconnects } from './metrics';

/**
 * Counts the `reconnect` status events of a connection under its name, until it closes. The
 * series starts at 0 so a dashboard sees the connection before its first reconnect.
 */
export function countReconnects(nc: NatsConnection, connection: string): void {
  natsReconnects.inc({ connection }, 0);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'reconnect') natsReconnects.inc({ connection });
    }
  })().catch(() => undefined);
}

/** The same for clients that report reconnects as events (Nest's NATS client and server). */
export function countReconnectEvents(source: ReconnectEventSource, connection: string): void {
  natsReconnects.inc({ connection }, 0);
  source.on('reconnect', () => natsReconnects.inc({ connection }));
}

export interface ReconnectEventSource {
  on(event: string, callback: () => void): unknown;
}

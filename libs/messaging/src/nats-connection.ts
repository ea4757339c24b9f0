import { connect, NatsConnection } from 'nats';

/** One NATS connection per service; reconnects forever (a broker restart must not kill services). */
export async function connectNats(servers: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: servers.split(','),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: false,
  });
}

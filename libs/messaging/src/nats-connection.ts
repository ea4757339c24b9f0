import { naming } from '@wrenn/contracts';
import type { WrennConfig } from '@wrenn/config';
import { natsAuthOptions, NatsIdentity } from '@wrenn/nats-auth';
import { countReconnects } from '@wrenn/observability';
import { connect, NatsConnection } from 'nats';

export type NatsConnectionConfig = Pick<WrennConfig, 'natsUrl' | 'natsCredsFile' | 'natsCredsDir' | 'natsInsecure' | 'namespace'>;

/** Connect options for `identity`: servers, its creds and the inbox prefix its permissions allow. */
export function natsConnectOptions(config: NatsConnectionConfig, identity: NatsIdentity) {
  return {
    servers: config.natsUrl.split(','),
    ...natsAuthOptions({ credsFile: config.natsCredsFile, credsDir: config.natsCredsDir, insecure: config.natsInsecure }, identity, naming(config.namespace)),
  };
}

/** One NATS connection per service; reconnects forever (a broker restart must not kill services). */
export async function connectNats(config: NatsConnectionConfig, identity: NatsIdentity, name: string): Promise<NatsConnection> {
  const nc = await connect({
    ...natsConnectOptions(config, identity),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: false,
  });
  countReconnects(nc, name);
  return nc;
}

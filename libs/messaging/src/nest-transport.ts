import { ErrorCode, Reply, unwrap, WrennError } from '@wrenn/contracts';
import { ClientProxy, NatsOptions, Transport } from '@nestjs/microservices';
import { NatsIdentity } from '@wrenn/nats-auth';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import { NatsConnectionConfig, natsConnectOptions } from './nats-connection';

/** Options for a Nest microservice that serves control-plane commands in a queue group, as `identity`. */
export function natsServerOptions(config: NatsConnectionConfig, identity: NatsIdentity, queue: string, name: string): NatsOptions {
  return {
    transport: Transport.NATS,
    options: { ...natsConnectOptions(config, identity), queue, name, maxReconnectAttempts: -1 },
  };
}

export function natsClientOptions(config: NatsConnectionConfig, identity: NatsIdentity, name: string): NatsOptions {
  return {
    transport: Transport.NATS,
    options: { ...natsConnectOptions(config, identity), name, maxReconnectAttempts: -1 },
  };
}

/** Sends a command through a Nest NATS client and unwraps the Reply envelope the server returns. */
export async function sendCommand<T>(client: ClientProxy, pattern: string, payload: unknown, timeoutMs: number, what: string): Promise<T> {
  try {
    const reply = await firstValueFrom(client.send<Reply<T>>(pattern, payload).pipe(timeout(timeoutMs)));
    return unwrap(reply);
  } catch (error) {
    if (error instanceof WrennError) throw error;
    if (error instanceof TimeoutError) {
      throw new WrennError(ErrorCode.ServiceUnavailable, `${what} did not answer within ${timeoutMs} ms`);
    }
    throw new WrennError(ErrorCode.ServiceUnavailable, `${what} failed: ${(error as Error).message ?? error}`);
  }
}

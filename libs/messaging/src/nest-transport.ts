import { ErrorCode, Reply, unwrap, WrennError } from '@wrenn/contracts';
import { ClientProxy, NatsOptions, NatsRecordBuilder, Transport } from '@nestjs/microservices';
import { inSpan, SpanKind, traceHeaders, tracerFor } from '@wrenn/observability';
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

const messagingTracer = tracerFor('messaging');

/**
 * Sends a command through a Nest NATS client and unwraps the Reply envelope the server returns.
 * The command goes in a client span whose trace context rides in the message's NATS headers.
 */
export async function sendCommand<T>(client: ClientProxy, pattern: string, payload: unknown, timeoutMs: number, what: string): Promise<T> {
  try {
    const reply = await inSpan(messagingTracer, pattern, { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': pattern } }, async () => {
      const headers = traceHeaders();
      const message = headers ? new NatsRecordBuilder(payload).setHeaders(headers).build() : payload;
      return firstValueFrom(client.send<Reply<T>>(pattern, message).pipe(timeout(timeoutMs)));
    });
    return unwrap(reply);
  } catch (error) {
    if (error instanceof WrennError) throw error;
    if (error instanceof TimeoutError) {
      throw new WrennError(ErrorCode.ServiceUnavailable, `${what} did not answer within ${timeoutMs} ms`);
    }
    throw new WrennError(ErrorCode.ServiceUnavailable, `${what} failed: ${(error as Error).message ?? error}`);
  }
}

import { ErrorCode, failed, ok, Reply, unwrap, WrennError } from '@wrenn/contracts';
import { ErrorCode as NatsErrorCode, NatsConnection, NatsError, Subscription } from 'nats';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Request/reply over core NATS with the platform's Reply envelope. Domain failures travel as
 * {ok:false, error}; a missing or silent responder becomes a typed WrennError here, once.
 */
export async function request<T>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  timeoutMs: number,
  unavailable: { code: ErrorCode; what: string } = { code: ErrorCode.ServiceUnavailable, what: subject },
): Promise<T> {
  let raw: Uint8Array;
  try {
    raw = (await nc.request(subject, encoder.encode(JSON.stringify(payload)), { timeout: timeoutMs })).data;
  } catch (error) {
    const code = (error as NatsError).code;
    if (code === NatsErrorCode.NoResponders) {
      throw new WrennError(unavailable.code, `${unavailable.what} is not available`);
    }
    if (code === NatsErrorCode.Timeout) {
      throw new WrennError(
        unavailable.code === ErrorCode.HostUnavailable ? ErrorCode.HostTimeout : unavailable.code,
        `${unavailable.what} did not answer within ${timeoutMs} ms`,
      );
    }
    throw error;
  }
  return unwrap(JSON.parse(decoder.decode(raw)) as Reply<T>);
}

/**
 * Serves a subject (optionally in a queue group): each request runs `handler`, its value or
 * error goes back as a Reply. Handlers run concurrently; ordering is the handler's concern.
 */
export function serve<Req, Res>(
  nc: NatsConnection,
  subject: string,
  handler: (request: Req) => Promise<Res>,
  options: { queue?: string; onError?: (error: unknown) => void } = {},
): Subscription {
  return nc.subscribe(subject, {
    queue: options.queue,
    callback: (err, msg) => {
      if (err) {
        options.onError?.(err);
        return;
      }
      void (async () => {
        let reply: Reply<Res>;
        try {
          reply = ok(await handler(JSON.parse(decoder.decode(msg.data)) as Req));
        } catch (error) {
          if (!(error instanceof WrennError)) options.onError?.(error);
          reply = failed(error);
        }
        if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
      })();
    },
  });
}

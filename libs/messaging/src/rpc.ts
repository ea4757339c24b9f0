import { ErrorCode, failed, ok, Reply, unwrap, WrennError } from '@wrenn/contracts';
import { inSpan, SpanKind, SpanStatusCode, traceContextOf, traceHeaders, tracerFor } from '@wrenn/observability';
import { ErrorCode as NatsErrorCode, NatsConnection, NatsError, Subscription } from 'nats';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const messagingTracer = tracerFor('messaging');

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
    // A client span per request; its context travels in the headers (W3C traceparent).
    raw = await inSpan(messagingTracer, subject, { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } }, async () => {
      const headers = traceHeaders();
      return (await nc.request(subject, encoder.encode(JSON.stringify(payload)), { timeout: timeoutMs, ...(headers ? { headers } : {}) })).data;
    });
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
  options: { queue?: string; onError?: (error: unknown) => void; /** The service whose spans these are. */ traceAs?: string } = {},
): Subscription {
  const tracer = tracerFor(options.traceAs ?? 'messaging');
  return nc.subscribe(subject, {
    queue: options.queue,
    callback: (err, msg) => {
      if (err) {
        options.onError?.(err);
        return;
      }
      void (async () => {
        // The handler runs in a server span, a child of the trace context the request carries.
        const attributes = { 'messaging.system': 'nats', 'messaging.destination.name': subject, ...(options.traceAs ? { 'wrenn.service': options.traceAs } : {}) };
        const reply = await tracer.startActiveSpan(subject, { kind: SpanKind.SERVER, attributes }, traceContextOf(msg.headers), async (span) => {
          try {
            return ok(await handler(JSON.parse(decoder.decode(msg.data)) as Req));
          } catch (error) {
            if (!(error instanceof WrennError)) options.onError?.(error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
            return failed(error) as Reply<Res>;
          } finally {
            span.end();
          }
        });
        if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
      })();
    },
  });
}

import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { NatsContext } from '@nestjs/microservices';
import { context as otelContext, SpanKind, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
import { traceContextOf, tracerFor } from '@wrenn/observability';
import { Observable } from 'rxjs';
import { SERVICE_NAME } from './tokens';

/**
 * Continues the caller's trace in a command handler: the span is a child of the `traceparent`
 * the NATS message carries, and the handler runs inside it, so the commands it sends on (a host
 * agent's create) carry this span as their parent. HTTP requests are the gateway's own concern.
 */
@Injectable()
export class RpcTracingInterceptor implements NestInterceptor {
  private readonly tracer: Tracer;

  constructor(@Inject(SERVICE_NAME) private readonly service: string) {
    this.tracer = tracerFor(service);
  }

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'rpc') return next.handle();
    const nats = execution.switchToRpc().getContext<NatsContext>();
    const subject = typeof nats?.getSubject === 'function' ? nats.getSubject() : execution.getHandler().name;
    const parent = traceContextOf(typeof nats?.getHeaders === 'function' ? nats.getHeaders() : undefined);
    return new Observable((subscriber) => {
      const span = this.tracer.startSpan(subject, { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'wrenn.service': this.service } }, parent);
      // The handler runs when subscribed: subscribing inside the span's context makes its
      // async work (and the NATS requests it sends) inherit the span.
      const inner = otelContext.with(trace.setSpan(parent, span), () =>
        next.handle().subscribe({
          next: (value) => {
            // Handlers answer with a Reply envelope: a refusal is not a transport error.
            if (isFailedReply(value)) span.setStatus({ code: SpanStatusCode.ERROR, message: value.error.code });
            subscriber.next(value);
          },
          error: (error: unknown) => {
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
            subscriber.error(error);
          },
          complete: () => {
            span.end();
            subscriber.complete();
          },
        }),
      );
      return () => inner.unsubscribe();
    });
  }
}

function isFailedReply(value: unknown): value is { ok: false; error: { code: string } } {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false && typeof (value as { error?: { code?: unknown } }).error?.code === 'string';
}

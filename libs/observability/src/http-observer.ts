import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpRequestDuration } from './metrics';
import { serveMetrics } from './metrics-listener';
import { tracerFor } from './tracing';

type ExpressRequest = IncomingMessage & { route?: { path?: string }; baseUrl?: string };

/**
 * The route template a request matched (`/v1/sandboxes/:id`), never its path: ids in labels
 * would make a series per sandbox. Requests no route took (static files, 404s) share one label.
 */
export function routeTemplate(req: ExpressRequest, status: number): string {
  const path = req.route?.path;
  if (typeof path === 'string') return `${req.baseUrl ?? ''}${path}`;
  return status === 404 ? 'unmatched' : 'other';
}

/**
 * Express middleware of the gateway: answers GET /metrics with the process registry, and for
 * every other request observes its latency by method, route template and status, inside a
 * server span that the request's NATS commands carry on to the services behind. The span starts
 * a new trace: the API is public, and a caller's `traceparent` could force sampling on.
 */
export function httpObserver(service: string) {
  const tracer = tracerFor(service);
  return (req: ExpressRequest, res: ServerResponse, next: () => void): void => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      void serveMetrics(res);
      return;
    }
    const method = req.method ?? 'GET';
    const stop = httpRequestDuration.startTimer();
    const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': (req.url ?? '/').split('?')[0] } }, ROOT_CONTEXT);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      // A client that hung up before the answer: no status was sent, 499 as nginx counts it.
      const status = res.writableFinished || res.headersSent ? res.statusCode : 499;
      const route = routeTemplate(req, status);
      stop({ method, route, status: String(status) });
      span.updateName(`${method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', finish);
    res.once('close', finish);
    context.with(trace.setSpan(context.active(), span), next);
  };
}

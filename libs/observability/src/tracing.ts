import { Context, context, propagation, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
// Types only: the SDK (a few hundred ms to load) is required when tracing is turned on.
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type * as TraceBase from '@opentelemetry/sdk-trace-base';
import type * as TraceNode from '@opentelemetry/sdk-trace-node';

export interface TracingOptions {
  /** `service.name` of the process: `wrenn` for several services in one process, else `wrenn-<service>`. */
  serviceName: string;
  /** OTLP/HTTP traces endpoint; without it (and without spanProcessors) tracing stays off. */
  otlpTracesEndpoint?: string;
  otlpHeaders?: Record<string, string>;
  sampleRatio?: number;
  /** Where spans go instead of (or beside) OTLP: a test's in-memory exporter, for one. */
  spanProcessors?: SpanProcessor[];
}

let provider: TraceNode.NodeTracerProvider | undefined;

/**
 * Installs the process's tracer provider (W3C trace context, async-local context) once: the
 * first service of a process to boot decides, the others find it installed. Off unless an
 * endpoint (or a processor) is given, and then the API's no-op tracer makes spans cost nothing.
 * Returns whether tracing is on.
 */
export function initTracing(options: TracingOptions): boolean {
  if (provider) return true;
  if (!options.otlpTracesEndpoint && !options.spanProcessors?.length) return false;
  const { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = require('@opentelemetry/sdk-trace-base') as typeof TraceBase;
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as typeof TraceNode;
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof Resources;
  const processors = [...(options.spanProcessors ?? [])];
  if (options.otlpTracesEndpoint) {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpTracesEndpoint, headers: options.otlpHeaders ?? {} })));
  }
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio ?? 1) }),
    spanProcessors: processors,
  });
  provider.register();
  return true;
}

/** Sends what is buffered and uninstalls the provider (a process stopping, a test ending). */
export async function shutdownTracing(): Promise<void> {
  const current = provider;
  provider = undefined;
  if (!current) return;
  await current.shutdown().catch(() => undefined);
  trace.disable();
  propagation.disable();
  context.disable();
}

/** The tracer of one service (its instrumentation scope is `wrenn.<service>`). */
export function tracerFor(service: string): Tracer {
  return trace.getTracer(`wrenn.${service}`);
}

/**
 * Runs `work` in a new active span (child of `parent`, the active context by default), ends
 * it, and marks it failed with the error when `work` throws.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, options.parent ?? context.active(), async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

export { ROOT_CONTEXT, SpanKind, SpanStatusCode };

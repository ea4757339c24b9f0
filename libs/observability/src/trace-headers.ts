import { Context, context, propagation, ROOT_CONTEXT, TextMapGetter } from '@opentelemetry/api';
import { headers as natsHeaders, MsgHdrs } from 'nats';

const getter: TextMapGetter<MsgHdrs> = {
  keys: (carrier) => carrier.keys(),
  get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
};

/**
 * NATS headers carrying the active trace context (W3C `traceparent`/`tracestate`), or undefined
 * when there is none to carry (tracing off, or no span active): messages then stay as they were.
 */
export function traceHeaders(from: Context = context.active()): MsgHdrs | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  const keys = Object.keys(carrier);
  if (keys.length === 0) return undefined;
  const h = natsHeaders();
  for (const key of keys) h.set(key, carrier[key]);
  return h;
}

/** The trace context a message carries in its headers (a fresh root context without one). */
export function traceContextOf(h: MsgHdrs | undefined): Context {
  return h ? propagation.extract(ROOT_CONTEXT, h, getter) : ROOT_CONTEXT;
}

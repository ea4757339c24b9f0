import { Agent, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, request, ServerResponse } from 'node:http';

/**
 * Headers that describe one hop's connection, not the message (RFC 9110 §7.6.1): a proxy must
 * not forward them. Framing (content-length or chunked) is redone by Node on each side.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

export function forwardableHeaders(headers: IncomingHttpHeaders, drop: readonly string[] = []): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = new Set(String(headers.connection ?? '').toLowerCase().split(',').map((h) => h.trim()).filter(Boolean));
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || drop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** An error answer in the shape E2B's SDKs read from envd and its proxy: {code, message}. */
export function answerError(res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code: status, message, ...extra }));
}

export interface ForwardTarget {
  /** http://host:port of the next hop. */
  baseUrl: string;
  headers: OutgoingHttpHeaders;
  agent: Agent;
}

/**
 * Byte-level HTTP/1.1 reverse proxy for one request: the request body streams up and the response
 * streams down as the bytes arrive (Connect server streams, file transfers), never buffered whole;
 * backpressure flows through `pipe`. Either side going away tears the other down, so an abandoned
 * command stream does not keep a socket open. `onUpstreamError` answers when nothing was sent yet.
 */
export function forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget, onUpstreamError: (error: Error) => void): void {
  const url = new URL(target.baseUrl);
  const upstream = request({
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port,
    method: req.method,
    path: req.url,
    headers: target.headers,
    agent: target.agent,
  });
  let answered = false;
  upstream.on('response', (up) => {
    answered = true;
    res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardableHeaders(up.headers));
    // Streams start with headers only (e.g. a process' start event comes later): send them now.
    res.flushHeaders();
    up.pipe(res);
    up.on('error', () => res.destroy());
    up.on('aborted', () => res.destroy());
  });
  upstream.on('error', (error) => {
    if (!answered && !res.headersSent) onUpstreamError(error);
    else res.destroy();
  });
  // The client left before the answer ended: stop the upstream request too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('aborted', () => upstream.destroy());
  req.pipe(upstream);
}

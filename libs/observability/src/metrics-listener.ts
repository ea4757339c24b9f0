import { createServer, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsRegistry } from './metrics';

export interface MetricsListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export interface MetricsListener {
  /** Where /metrics answers, e.g. http://127.0.0.1:9464/metrics; undefined when it could not bind. */
  readonly url: string | undefined;
  /** True for the holder whose acquire opened the listener (the one to log where it is). */
  readonly opened: boolean;
  /** Releases this holder's share; the last one closes the listener. */
  release(): Promise<void>;
}

/** Answers GET /metrics with the process registry in Prometheus text format; 404 otherwise. */
export async function serveMetrics(res: ServerResponse): Promise<void> {
  try {
    const body = await metricsRegistry.metrics();
    res.writeHead(200, { 'content-type': metricsRegistry.contentType, 'cache-control': 'no-store' });
    res.end(body);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`metrics collection failed: ${(error as Error).message}\n`);
  }
}

let shared: { server: Server; url: string | undefined; holders: number; ready: Promise<void> } | undefined;

/**
 * The process's one metrics listener. Services running together in one process (the default
 * `wrenn start`) share it — the first one to boot opens it, the last to stop closes it — so a
 * single port serves every service's series; a process running one service has its own.
 * A port already taken is reported to `onError` and the service runs on without a listener:
 * metrics must never keep the control plane or a host agent from starting.
 */
export async function acquireMetricsListener(options: MetricsListenerOptions, onError: (error: Error) => void = () => undefined): Promise<MetricsListener> {
  const opening = !shared;
  if (!shared) {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/metrics') {
        void serveMetrics(res);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: metrics are at /metrics\n');
    });
    const state = { server, url: undefined as string | undefined, holders: 0, ready: Promise.resolve() };
    state.ready = new Promise<void>((resolve) => {
      server.once('error', (error) => {
        onError(error);
        resolve();
      });
      server.listen(options.port, options.host, () => {
        const { port } = server.address() as AddressInfo;
        const host = options.host.includes(':') ? `[${options.host}]` : options.host;
        state.url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`;
        resolve();
      });
    });
    // Scrapes must not keep a stopping process alive.
    server.unref();
    shared = state;
  }
  const state = shared;
  state.holders += 1;
  await state.ready;
  let released = false;
  return {
    get url() {
      return state.url;
    },
    opened: opening,
    async release() {
      if (released) return;
      released = true;
      state.holders -= 1;
      if (state.holders > 0) return;
      if (shared === state) shared = undefined;
      if (state.server.listening) await new Promise<void>((resolve) => state.server.close(() => resolve()));
    },
  };
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage } from 'node:http';
import { loadConfig } from '@wrenn/config';
import { inSpan, shutdownTracing, SpanKind, traceHeaders, tracerFor } from '@wrenn/observability';
import { startTracing } from './observability.lifecycle';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

describe(startTracing.name, () => {
  it('is off without an endpoint: no spans, no trace headers on messages', async () => {
    assert.equal(startTracing(loadConfig({})), false);
    await inSpan(tracerFor('test'), 'work', {}, async (span) => {
      assert.equal(span.isRecording(), false);
      assert.equal(traceHeaders(), undefined);
    });
  });

  it('exports spans as OTLP/HTTP JSON to WRENN_OTLP_ENDPOINT with the configured headers and service name', async () => {
    const received: Received[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as { port: number };
    try {
      const config = loadConfig({ WRENN_OTLP_ENDPOINT: `http://127.0.0.1:${port}/`, WRENN_OTLP_HEADERS: 'x-collector-key=k1', WRENN_TRACE_SERVICE_NAME: 'wrenn-test' });
      assert.equal(startTracing(config), true);
      let traceparent: string | undefined;
      await inSpan(tracerFor('gateway'), 'POST /v1/sandboxes', { kind: SpanKind.SERVER }, async () => {
        traceparent = traceHeaders()?.get('traceparent');
      });
      assert.match(traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'messages carry a W3C traceparent');
      // Shutting down flushes the batch.
      await shutdownTracing();
      assert.equal(received.length, 1);
      const [post] = received;
      assert.equal(post.path, '/v1/traces');
      assert.equal(post.headers['x-collector-key'], 'k1');
      const resource = post.body.resourceSpans[0];
      assert.deepEqual(resource.resource.attributes.find((a: any) => a.key === 'service.name')?.value, { stringValue: 'wrenn-test' });
      const scope = resource.scopeSpans.find((s: any) => s.scope.name === 'wrenn.gateway');
      assert.equal(scope?.spans[0]?.name, 'POST /v1/sandboxes');
      assert.equal(scope.spans[0].traceId, traceparent!.split('-')[1]);
    } finally {
      await shutdownTracing();
      collector.close();
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { parsePrometheusText, PromSample, sampleValue, Series } from '@wrenn/observability';
import { eventually } from '@wrenn/testing';
import { Platform, startPlatform } from './platform';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  scope: string;
  service: string;
}

async function freePort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * The platform as a user runs it (one process, a real host agent on the namespace runtime) with
 * its metrics listener on and traces sent to a loopback OTLP/HTTP collector: one create is one
 * trace across the gateway, the scheduler and the host agent, and the host's series follow the
 * sandbox it runs. Pools are off so the host's counts are exactly this suite's sandbox.
 */
describe('metrics and traces of the running platform', () => {
  let p: Platform;
  let collector: Server;
  let metricsUrl = '';
  const spans: OtlpSpan[] = [];

  before(async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a: any) => a.key === 'service.name')?.value?.stringValue;
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, name: s.name, scope: ss.scope?.name, service });
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    p = await startPlatform('observe', {
      WRENN_WARM_POOL_SIZE: '0',
      WRENN_NET_POOL_SIZE: '0',
      WRENN_METRICS_PORT: String(metricsPort),
      WRENN_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as { port: number }).port}`,
    });
  });
  after(async () => {
    await p?.releaseHost().catch(() => undefined);
    await p?.stop();
    collector?.close();
  });

  const scrape = async (url = metricsUrl): Promise<PromSample[]> => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    return parsePrometheusText(await res.text());
  };
  const host = (samples: PromSample[], name: string, state: string) => sampleValue(samples, name, { host: p.hostId, state });

  it('the host agent reports the sandbox it runs, its slot, its create and resume times, and the host disk and memory', async () => {
    const before = await scrape();
    assert.equal(host(before, Series.HostSandboxes, 'running'), 0);
    assert.equal(host(before, Series.HostNetworkSlots, 'used'), 0);
    const creates = `${Series.HostCreateDuration}_count`;
    const createdBefore = sampleValue(before, creates, { host: p.hostId, result: 'ok' }) ?? 0;

    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 256 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const during = await scrape();
    assert.equal(host(during, Series.HostSandboxes, 'running'), 1);
    assert.equal(host(during, Series.HostNetworkSlots, 'used'), 1);
    assert.equal(sampleValue(during, creates, { host: p.hostId, result: 'ok' }), createdBefore + 1);
    assert.ok(host(during, Series.HostDiskBytes, 'free')! > 0 && host(during, Series.HostDiskBytes, 'used')! > 0);
    assert.equal(host(during, Series.HostMemoryBytes, 'reserved'), 256 * 1024 * 1024);
    assert.equal(sampleValue(during, Series.Sandboxes, { state: 'running' }), 1);
    // The gateway's own port serves the same registry (one process).
    assert.equal(sampleValue(await scrape(`${p.url}/metrics`), Series.HostSandboxes, { host: p.hostId, state: 'running' }), 1);

    // One trace: gateway → scheduler → host agent, over the real NATS hops.
    const gatewaySpan = await eventually(() => spans.find((s) => s.scope === 'wrenn.gateway' && s.name === 'POST /v1/sandboxes'), 20_000, 'the gateway span exported');
    const inTrace = () => spans.filter((s) => s.traceId === gatewaySpan.traceId);
    const hostSpan = await eventually(() => inTrace().find((s) => s.scope === 'wrenn.host-agent' && s.name.endsWith('.create')), 20_000, 'the host agent span exported');
    const schedulerSpan = inTrace().find((s) => s.scope === 'wrenn.sandbox-scheduler' && s.name.endsWith('sandbox-scheduler.create'));
    assert.ok(schedulerSpan, inTrace().map((s) => `${s.scope}:${s.name}`).join(', '));
    const parentOf = (s: OtlpSpan) => inTrace().find((c) => c.spanId === s.parentSpanId);
    assert.equal(parentOf(parentOf(schedulerSpan)!), gatewaySpan);
    assert.equal(parentOf(parentOf(hostSpan)!), schedulerSpan);
    assert.equal(gatewaySpan.parentSpanId, undefined);
    assert.equal(gatewaySpan.service, 'wrenn');

    // Paused: no process or slot on the host, the snapshot held; resumed: running again, timed.
    const resumes = `${Series.SandboxResumeDuration}_count`;
    const hostResumes = `${Series.HostResumeDuration}_count`;
    const resumedBefore = [sampleValue(during, resumes, { result: 'ok' }) ?? 0, sampleValue(during, hostResumes, { host: p.hostId, result: 'ok' }) ?? 0];
    assert.equal((await p.api('POST', `/v1/sandboxes/${created.body.id}/pause`)).status, 200);
    const paused = await scrape();
    assert.equal(host(paused, Series.HostSandboxes, 'running'), 0);
    assert.equal(host(paused, Series.HostSandboxes, 'paused'), 1);
    assert.equal(host(paused, Series.HostNetworkSlots, 'used'), 0);
    assert.equal(sampleValue(paused, Series.Sandboxes, { state: 'paused' }), 1);
    assert.equal((await p.api('POST', `/v1/sandboxes/${created.body.id}/resume`)).status, 200);
    const resumed = await scrape();
    assert.equal(host(resumed, Series.HostSandboxes, 'running'), 1);
    assert.deepEqual([sampleValue(resumed, resumes, { result: 'ok' }), sampleValue(resumed, hostResumes, { host: p.hostId, result: 'ok' })], resumedBefore.map((n) => n + 1));

    assert.equal((await p.deleteSandbox(created.body.id)).state, 'deleted');
    const gone = await scrape();
    assert.equal(host(gone, Series.HostSandboxes, 'running'), 0);
    assert.equal(host(gone, Series.HostNetworkSlots, 'used'), 0);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostHeartbeat, HostOp } from '@wrenn/contracts';
import { createLogger } from '@wrenn/logger';
import { acquireMetricsListener, initTracing, MetricsListener, parsePrometheusText, PromSample, sampleValue, Series, shutdownTracing } from '@wrenn/observability';
import type { RunningService } from '@wrenn/service-kit';
import { eventually } from '@wrenn/testing';
import { InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Subscription } from 'nats';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';

const HOST = 'h-observe';
const log = createLogger('test');
log.level = 'silent';

/**
 * Metrics and traces of one create through the real gateway, auth service, scheduler and
 * projector on real NATS and PostgreSQL. The host agent's own command handling
 * (`serveHostCommands`) answers on the real host subjects, over a stand-in runtime: what this
 * suite watches is what crosses the services, not how a sandbox starts.
 */
describe('metrics and traces across gateway, scheduler and host agent', () => {
  const spans = new InMemorySpanExporter();
  let h: GatewayHarness;
  let scheduler: RunningService;
  let projector: RunningService;
  let hostSubs: Subscription[] = [];
  let listener: MetricsListener;
  let createdId = '';

  const scrape = async (url: string): Promise<PromSample[]> => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return parsePrometheusText(await res.text());
  };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${h.gateway.url}${path}`, { method: 'POST', headers: { ...h.authHeaders(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    // Installed before any service boots: they find tracing on and use this processor.
    initTracing({ serviceName: 'wrenn', spanProcessors: [new SimpleSpanProcessor(spans)] });
    h = await startGateway('observe', { WRENN_METRICS_PORT: '0', WRENN_METRICS_HOST: '127.0.0.1' });
    // Loaded once the namespace is set: their subjects are resolved when their modules load.
    const { bootstrapSandboxScheduler } = await import('@wrenn/sandbox-scheduler');
    const { bootstrapProjector } = await import('@wrenn/projector');
    const { serveHostCommands } = await import('@wrenn/host-agent');
    scheduler = await bootstrapSandboxScheduler();
    projector = await bootstrapProjector();
    const standIn = {
      create: async (req: { spec: { sandboxId: string } }) => ({ sandboxId: req.spec.sandboxId, elapsedMs: 3 }),
      destroy: async () => ({}),
      list: async () => ({ sandboxIds: [], pausedIds: [] }),
    };
    hostSubs = serveHostCommands(h.env.nc, h.env.naming, HOST, standIn as unknown as Parameters<typeof serveHostCommands>[3], log);
    const beat: HostHeartbeat = {
      hostId: HOST, bootId: 'boot-1', runtime: 'namespace', capacity: { vcpus: 16, memoryMb: 8192, maxSandboxes: 10 },
      used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at: Date.now(), leaseMs: 600_000, version: 'test', dataPlaneUrl: 'http://127.0.0.1:1',
    };
    const kv = await h.env.nc.jetstream().views.kv(h.env.naming.hostsBucket, { history: 1 });
    await kv.put(HOST, JSON.stringify(beat));
    // The services opened the process's listener on a free port; a share of it tells where.
    listener = await acquireMetricsListener({ host: '127.0.0.1', port: 0 });
    assert.ok(listener.url, 'the metrics listener is up');
  });
  after(async () => {
    for (const sub of hostSubs) sub.unsubscribe();
    await listener?.release();
    await projector?.close();
    await scheduler?.close();
    await h?.close();
    await shutdownTracing();
  });

  it('counts a REST request under its route template, method and status on the gateway port', async () => {
    const labels = { method: 'GET', route: '/v1/sandboxes/:id', status: '404' };
    const count = `${Series.HttpRequestDuration}_count`;
    const before = sampleValue(await scrape(`${h.gateway.url}/metrics`), count, labels) ?? 0;
    const missing = 'sb_01jz0000000000000000000001';
    const res = await fetch(`${h.gateway.url}/v1/sandboxes/${missing}`, { headers: h.authHeaders() });
    assert.equal(res.status, 404);
    const after = await scrape(`${h.gateway.url}/metrics`);
    assert.equal(sampleValue(after, count, labels), before + 1);
    assert.ok(!after.some((s) => Object.values(s.labels).some((v) => v.includes(missing))), 'no label carries the sandbox id');
  });

  it('a create moves the scheduler and host create histograms and the running count', async () => {
    const running = async () => sampleValue(await scrape(listener.url!), Series.Sandboxes, { state: 'running' }) ?? -1;
    const schedulerOk = `${Series.SandboxCreateDuration}_count`;
    const hostOk = `${Series.HostCreateDuration}_count`;
    const start = await scrape(listener.url!);
    const runningBefore = await running();
    assert.ok(runningBefore >= 0, 'every state is reported, 0 included');

    const created = await post('/v1/sandboxes', { template: 'base', vcpus: 1, memory_mb: 256 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    createdId = created.body.id;

    const end = await scrape(listener.url!);
    assert.equal(sampleValue(end, schedulerOk, { result: 'ok' }), (sampleValue(start, schedulerOk, { result: 'ok' }) ?? 0) + 1);
    assert.equal(sampleValue(end, hostOk, { host: HOST, result: 'ok' }), (sampleValue(start, hostOk, { host: HOST, result: 'ok' }) ?? 0) + 1);
    // Where its time went: the command to the scheduler, its appends, the host command, the read model wait.
    const moved = (name: string, labels: Record<string, string>) => (sampleValue(end, `${name}_count`, labels) ?? 0) - (sampleValue(start, `${name}_count`, labels) ?? 0);
    assert.equal(moved(Series.CommandDuration, { service: 'sandbox-scheduler', command: 'create', result: 'ok' }), 1);
    assert.equal(moved(Series.CommandDuration, { service: 'host-agent', command: 'create', result: 'ok' }), 1);
    assert.equal(moved(Series.ReadModelWait, { projection: 'sandboxes', result: 'ok' }), 1);
    assert.ok(moved(Series.EventAppendDuration, { aggregate: 'sandbox', result: 'ok' }) >= 2, 'requested and started are appended');
    // The gateway answered after the sandboxes projection committed: the count already moved.
    assert.equal(await running(), runningBefore + 1);
    // Caught up with the log, every projection's lag is 0 again.
    await eventually(async () => {
      const lag = (await scrape(listener.url!)).filter((s) => s.name === Series.ProjectionLag);
      return lag.length >= 4 && lag.every((s) => s.value === 0) ? true : undefined;
    }, 10_000, 'every projection caught up');
  });

  it('serves every service of the process on one listener: NATS connections, projections, process series', async () => {
    const samples = await scrape(listener.url!);
    for (const connection of ['wrenn-gateway', 'wrenn-auth', 'wrenn-sandbox-scheduler', 'wrenn-sandbox-scheduler-rpc']) {
      assert.equal(sampleValue(samples, Series.NatsReconnects, { connection }), 0, `${connection} is counted`);
    }
    for (const projection of ['sandboxes', 'templates', 'audit', 'usage']) {
      assert.notEqual(sampleValue(samples, Series.ProjectionLag, { projection }), undefined, `${projection} lag`);
    }
    assert.ok(sampleValue(samples, 'process_cpu_user_seconds_total')! > 0);
    assert.ok(sampleValue(samples, 'nodejs_heap_size_used_bytes')! > 0);
    const notFound = await fetch(listener.url!.replace('/metrics', '/other'));
    assert.equal(notFound.status, 404);
  });

  it('one create is one trace: gateway → scheduler → host agent, each span a child of the one before', async () => {
    assert.ok(createdId, 'the create ran');
    const byScope = (scope: string, name: (n: string) => boolean) => (span: ReadableSpan) => span.instrumentationScope.name === scope && name(span.name);
    const finished = () => spans.getFinishedSpans();
    const gatewaySpan = await eventually(() => finished().find(byScope('wrenn.gateway', (n) => n === 'POST /v1/sandboxes')), 5000, 'the gateway span');
    const trace = () => finished().filter((s) => s.spanContext().traceId === gatewaySpan.spanContext().traceId);
    const schedulerSpan = trace().find(byScope('wrenn.sandbox-scheduler', (n) => n.endsWith('sandbox-scheduler.create')));
    const hostSpan = trace().find(byScope('wrenn.host-agent', (n) => n === h.env.naming.hostSubject(HOST, HostOp.Create)));
    assert.ok(schedulerSpan, `the scheduler's span is in the trace: ${trace().map((s) => `${s.instrumentationScope.name}:${s.name}`).join(', ')}`);
    assert.ok(hostSpan, `the host agent's span is in the trace: ${trace().map((s) => `${s.instrumentationScope.name}:${s.name}`).join(', ')}`);

    const byId = new Map(trace().map((s) => [s.spanContext().spanId, s]));
    const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? '');
    // Each hop is a client span of the sender (the NATS request), whose parent is the sender's span.
    const schedulerCall = parentOf(schedulerSpan)!;
    assert.equal(schedulerCall?.instrumentationScope.name, 'wrenn.messaging');
    assert.equal(schedulerCall.name, schedulerSpan.name);
    assert.equal(parentOf(schedulerCall), gatewaySpan);
    const hostCall = parentOf(hostSpan)!;
    assert.equal(hostCall?.instrumentationScope.name, 'wrenn.messaging');
    assert.equal(hostCall.name, hostSpan.name);
    assert.equal(parentOf(hostCall), schedulerSpan);
    assert.equal(gatewaySpan.parentSpanContext, undefined, 'the gateway starts the trace');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './index';

describe('observability settings', () => {
  it('default to a loopback metrics listener on 9464 and tracing off', () => {
    assert.deepEqual(loadConfig({}).observability, {
      metricsHost: '127.0.0.1',
      metricsPort: 9464,
      metricsEnabled: true,
      otlpTracesEndpoint: undefined,
      otlpHeaders: {},
      traceSampleRatio: 1,
      traceServiceName: 'wrenn',
    });
  });

  it('take the OTLP base endpoint (traces under /v1/traces) or the full traces URL, and collector headers', () => {
    assert.equal(loadConfig({ WRENN_OTLP_ENDPOINT: 'http://otel:4318/' }).observability.otlpTracesEndpoint, 'http://otel:4318/v1/traces');
    assert.equal(loadConfig({ WRENN_OTLP_ENDPOINT: 'http://otel:4318', WRENN_OTLP_TRACES_ENDPOINT: 'http://other/x' }).observability.otlpTracesEndpoint, 'http://other/x');
    assert.deepEqual(loadConfig({ WRENN_OTLP_HEADERS: 'x-key=a=b, tenant = t1,broken' }).observability.otlpHeaders, { 'x-key': 'a=b', tenant: 't1' });
  });

  it('turn the listener off, and refuse a sample ratio outside 0..1 or a bad port', () => {
    assert.equal(loadConfig({ WRENN_METRICS: 'off' }).observability.metricsEnabled, false);
    assert.equal(loadConfig({ WRENN_TRACE_SAMPLE_RATIO: '0.25' }).observability.traceSampleRatio, 0.25);
    assert.throws(() => loadConfig({ WRENN_TRACE_SAMPLE_RATIO: '2' }), /WRENN_TRACE_SAMPLE_RATIO must be a number between 0 and 1/);
    assert.throws(() => loadConfig({ WRENN_METRICS_PORT: 'x' }), /WRENN_METRICS_PORT must be a non-negative integer/);
  });
});

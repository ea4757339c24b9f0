import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { parsePrometheusText, sampleValue } from './prometheus-text';

describe(parsePrometheusText.name, () => {
  it('reads what prom-client writes: histogram buckets, counts and escaped label values', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'x_seconds', help: 'x', labelNames: ['route'], buckets: [0.1, 1], registers: [registry] });
    h.observe({ route: '/v1/"odd"\\path' }, 0.5);
    h.observe({ route: '/v1/"odd"\\path' }, 2);
    const samples = parsePrometheusText(await registry.metrics());
    assert.equal(sampleValue(samples, 'x_seconds_count', { route: '/v1/"odd"\\path' }), 2);
    assert.equal(sampleValue(samples, 'x_seconds_bucket', { le: '0.1' }), 0);
    assert.equal(sampleValue(samples, 'x_seconds_bucket', { le: '1' }), 1);
    assert.equal(sampleValue(samples, 'x_seconds_bucket', { le: '+Inf' }), 2);
    assert.equal(sampleValue(samples, 'x_seconds_sum'), 2.5);
  });

  it('refuses a line that is not a sample', () => {
    assert.throws(() => parsePrometheusText('garbage line with {'), /not a Prometheus sample line/);
  });
});

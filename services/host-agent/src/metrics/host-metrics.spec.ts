import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statfs } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import { metricsRegistry, parsePrometheusText, sampleValue, Series } from '@wrenn/observability';
import { provideHostMetrics } from './host-metrics';

const scrape = async () => parsePrometheusText(await metricsRegistry.metrics());

describe(provideHostMetrics.name, () => {
  it('reports slots, disk, memory and sandboxes of the host as they are at scrape time', async () => {
    let running = ['sb_a', 'sb_b'];
    const remove = provideHostMetrics({
      hostId: 'h-1',
      stateDir: tmpdir(),
      usage: () => ({ sandboxes: running.length, vcpus: 2, memoryMb: 768 }),
      sandboxes: async () => ({ sandboxIds: running, pausedIds: ['sb_c'] }),
      network: () => ({ pooled: 3, inUse: running.map((_, i) => i + 1), capacity: 100 }),
      memoryReserveMb: 1024,
    });
    try {
      let samples = await scrape();
      const at = (name: string, state: string) => sampleValue(samples, name, { host: 'h-1', state });
      assert.equal(at(Series.HostSandboxes, 'running'), 2);
      assert.equal(at(Series.HostSandboxes, 'paused'), 1);
      assert.equal(at(Series.HostNetworkSlots, 'used'), 2);
      assert.equal(at(Series.HostNetworkSlots, 'pooled'), 3);
      assert.equal(at(Series.HostNetworkSlots, 'free'), 95);
      assert.equal(at(Series.HostMemoryBytes, 'reserved'), 768 * 1024 * 1024);
      assert.equal(at(Series.HostMemoryBytes, 'admission_reserve'), 1024 * 1024 * 1024);
      assert.equal(at(Series.HostMemoryBytes, 'used')! + at(Series.HostMemoryBytes, 'free')!, totalmem());
      const fs = await statfs(tmpdir());
      const total = fs.blocks * fs.bsize;
      const used = at(Series.HostDiskBytes, 'used')!;
      // Other writers may change the disk between the two reads: within 1 % of its size.
      assert.ok(Math.abs(used - (fs.blocks - fs.bfree) * fs.bsize) < total / 100, `used ${used}`);
      assert.ok(at(Series.HostDiskBytes, 'free')! > 0);

      running = ['sb_a'];
      samples = await scrape();
      assert.equal(at(Series.HostSandboxes, 'running'), 1, 'read again at the next scrape');
    } finally {
      remove();
    }
    const after = await scrape();
    assert.equal(sampleValue(after, Series.HostSandboxes, { host: 'h-1', state: 'running' }), undefined, 'gone once the agent stops');
  });

  it('a source that fails leaves its series out and counts a collect failure; the scrape still answers', async () => {
    // Read from the counter itself: a scrape serialises it beside the collects that count.
    const failures = async () => (await metricsRegistry.getSingleMetric(Series.CollectFailures)!.get()).values.find((v) => v.labels.metric === Series.HostSandboxes)?.value ?? 0;
    const before = await failures();
    const remove = provideHostMetrics({
      hostId: 'h-2',
      stateDir: tmpdir(),
      usage: () => ({ sandboxes: 0, vcpus: 0, memoryMb: 0 }),
      sandboxes: async () => {
        throw new Error('runtime not answering');
      },
      network: () => ({ pooled: 0, inUse: [], capacity: 10 }),
    });
    try {
      const samples = await scrape();
      assert.equal(sampleValue(samples, Series.HostSandboxes, { host: 'h-2', state: 'running' }), undefined);
      assert.equal(sampleValue(samples, Series.HostNetworkSlots, { host: 'h-2', state: 'free' }), 10);
      assert.equal(await failures(), before + 1);
    } finally {
      remove();
    }
  });
});

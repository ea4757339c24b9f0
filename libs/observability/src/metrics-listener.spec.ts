import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { acquireMetricsListener } from './metrics-listener';
import { Series } from './series';

describe(acquireMetricsListener.name, () => {
  it('is one listener per process: services share it, and the last one to stop closes it', async () => {
    const first = await acquireMetricsListener({ host: '127.0.0.1', port: 0 });
    const second = await acquireMetricsListener({ host: '127.0.0.1', port: 0 });
    assert.ok(first.url);
    assert.equal(second.url, first.url);
    assert.equal(first.opened, true);
    assert.equal(second.opened, false);
    const res = await fetch(first.url!);
    assert.equal(res.status, 200);
    assert.match(await res.text(), new RegExp(`^# HELP ${Series.NatsReconnects} `, 'm'));
    await first.release();
    assert.equal((await fetch(first.url!)).status, 200, 'still served while a service holds it');
    await second.release();
    await assert.rejects(fetch(first.url!), 'closed with the last holder');
  });

  it('reports a port already taken and lets the service run on without a listener', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    const errors: Error[] = [];
    try {
      const listener = await acquireMetricsListener({ host: '127.0.0.1', port }, (error) => errors.push(error));
      assert.equal(listener.url, undefined);
      assert.equal((errors[0] as NodeJS.ErrnoException)?.code, 'EADDRINUSE');
      await listener.release();
      // The next service to start tries again rather than inheriting the failure.
      const next = await acquireMetricsListener({ host: '127.0.0.1', port: 0 });
      assert.ok(next.url);
      await next.release();
    } finally {
      taken.close();
    }
  });
});

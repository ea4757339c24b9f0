import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer, connect as tcpConnect, Server, Socket } from 'node:net';
import { loadConfig } from '@wrenn/config';
import { serviceIdentity } from '@wrenn/nats-auth';
import { metricsRegistry, parsePrometheusText, sampleValue, Series } from '@wrenn/observability';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { NatsConnection } from 'nats';
import { connectNats } from './nats-connection';

/**
 * A service's connection to the real NATS server through a loopback TCP relay the test can cut:
 * each cut is a reconnect, counted in wrenn_nats_reconnects_total under the connection's name.
 */
describe('NATS reconnects in the metrics', () => {
  let env: TestEnv;
  let relay: Server;
  const sockets = new Set<Socket>();
  let nc: NatsConnection | undefined;

  before(async () => {
    env = await createTestEnv('reconnects');
    const upstream = new URL(env.natsUrl.split(',')[0].replace(/^nats:/, 'http:'));
    relay = createServer((client) => {
      const server = tcpConnect(Number(upstream.port || 4222), upstream.hostname);
      for (const s of [client, server]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(server).pipe(client);
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await nc?.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => relay.close(resolve));
    await env.cleanup();
  });

  const reconnects = async (connection: string) => sampleValue(parsePrometheusText(await metricsRegistry.metrics()), Series.NatsReconnects, { connection });

  it('starts at 0 and counts each time the connection comes back', async () => {
    const { port } = relay.address() as { port: number };
    const config = loadConfig({ ...process.env, ...env.env, NATS_URL: `nats://127.0.0.1:${port}` });
    nc = await connectNats(config, serviceIdentity('gateway'), 'wrenn-reconnect-test');
    await nc.flush();
    assert.equal(await reconnects('wrenn-reconnect-test'), 0);

    for (const expected of [1, 2]) {
      for (const s of sockets) s.destroy();
      await eventually(async () => ((await reconnects('wrenn-reconnect-test')) === expected ? true : undefined), 10_000, `reconnect ${expected} counted`);
      await nc.flush();
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect, NatsError } from 'nats';
import { Platform, startPlatform } from './platform';
import { asCold } from './lifecycle-events';

/**
 * The platform as `npm start` runs it by default: its own nats-server with auth on, every service
 * and the host agent on its own creds with only its own subjects. The whole flow a user drives
 * works — create, exec, files, metrics (the scheduler asks the host), pause and resume, a
 * snapshot template (the catalog drives the host), destroy, the CLI's log and host views (admin
 * creds) — and the server refused nothing any of them did.
 */
describe('the platform on an authenticated NATS', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform('natsauth', { WRENN_WARM_POOL_SIZE: '0', WRENN_NET_POOL_SIZE: '0' }, { natsAuth: true });
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    await p.api('DELETE', '/v1/templates/natsauth-tpl').catch(() => undefined);
    await p?.stop();
  });

  const serverLog = () => readFileSync(join(dirname(p.env.natsCredsDir!), 'nats-server.log'), 'utf8');

  it('refuses a connection without credentials to the platform’s NATS', async () => {
    await assert.rejects(connect({ servers: p.env.natsUrl }), (error: NatsError) => error.code === 'AUTHORIZATION_VIOLATION');
  });

  it('creates, runs, pauses, resumes, snapshots and destroys a sandbox with every service on its own creds', async () => {
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 256 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const ran = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sh', args: ['-c', 'echo hello > /root/hi.txt && cat /root/hi.txt'] });
    assert.equal(ran.status, 200, JSON.stringify(ran.body));
    assert.equal(ran.body.stdout, 'hello\n');

    const metrics = await p.api('GET', `/v1/sandboxes/${id}/metrics`);
    assert.equal(metrics.status, 200, JSON.stringify(metrics.body));
    assert.ok(metrics.body.memory_limit_bytes > 0, JSON.stringify(metrics.body));

    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/pause`)).body.state, 'paused');
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/resume`)).body.state, 'running');
    assert.equal((await p.api('GET', `/v1/sandboxes/${id}/files?path=/root/hi.txt`)).body, 'hello\n');

    const template = await p.api('POST', '/v1/templates', { sandbox_id: id, name: 'natsauth-tpl' });
    assert.equal(template.status, 201, JSON.stringify(template.body));
    assert.equal(template.body.state, 'ready');
    const deletedTemplate = await p.api('DELETE', '/v1/templates/natsauth-tpl');
    assert.ok(deletedTemplate.status < 300, JSON.stringify(deletedTemplate.body));

    const destroyed = await p.deleteSandbox(id);
    assert.equal(destroyed.state, 'deleted', JSON.stringify(destroyed));

    // The operator's CLI reads the log and the hosts with the admin creds.
    const history = await p.cli('sandbox', 'history', id, '--json');
    assert.equal(history.code, 0, history.stderr);
    const types = asCold(history.stdout.trim().split('\n').map((l) => JSON.parse(l).type));
    assert.ok(types.includes('sandbox.started') && types.includes('sandbox.stopped'), types.join(','));
    const hosts = await p.cli('host', 'ls');
    assert.equal(hosts.code, 0, hosts.stderr);
    assert.match(hosts.stdout, new RegExp(p.hostId));

    // Nothing any service or the agent did was refused.
    assert.doesNotMatch(serverLog(), /Violation/i);
    assert.doesNotMatch(p.output(), /Permissions Violation/i);
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { parse } from 'yaml';
import { OPENAPI_FILE } from './docs/docs.paths';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';

const doc = parse(readFileSync(OPENAPI_FILE, 'utf8'));
const SUCCESSOR = '</v1/templates>; rel="successor-version"';

describe('the template API under its name, and /v1/snapshots as its deprecated alias', () => {
  let h: GatewayHarness;
  const call = async (method: string, path: string, options: { body?: unknown; key?: boolean } = {}) => {
    const res = await fetch(`${h.gateway.url}${path}`, {
      method,
      headers: { ...(options.key === false ? {} : h.authHeaders()), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    h = await startGateway('tplnames');
    // A ready template in the read model, as the snapshot catalog's events would leave it.
    const pg = new Client({ connectionString: h.env.databaseUrl });
    await pg.connect();
    try {
      await pg.query(
        `INSERT INTO templates (id, team_id, name, state, source_sandbox_id, host_id, vcpus, memory_mb, size_bytes, failure_reason, version, created_at, updated_at)
         VALUES ('tpl_01', $1, 'app', 'ready', 'sb_01', 'host_a', 2, 1024, 4096, NULL, 2, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z')`,
        [h.teamId],
      );
    } finally {
      await pg.end();
    }
  });
  after(() => h?.close());

  const expected = { id: 'tpl_01', name: 'app', state: 'ready', sandbox_id: 'sb_01', host_id: 'host_a', vcpus: 2, memory_mb: 1024, size_bytes: 4096, created_at: '2026-01-01T00:00:00.000Z' };

  it('lists templates at /v1/templates under `templates`, each with exactly the fields the document gives a Template', async () => {
    const res = await call('GET', '/v1/templates');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { templates: [expected] });
    assert.deepEqual(Object.keys(res.body.templates[0]).sort(), Object.keys(doc.components.schemas.Template.properties).sort());
    assert.equal(res.headers.get('deprecation'), null);
    assert.equal(res.headers.get('link'), null);
  });

  it('still lists them at /v1/snapshots, under `templates` and the old `snapshots`, marked deprecated with the successor', async () => {
    const res = await call('GET', '/v1/snapshots');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { templates: [expected], snapshots: [expected] });
    assert.equal(res.headers.get('deprecation'), 'true');
    assert.equal(res.headers.get('link'), SUCCESSOR);
  });

  it('marks the deprecated routes\' refusals too: no key, a bad body, a bad name', async () => {
    const refusals = [
      [await call('GET', '/v1/snapshots', { key: false }), 401, 'unauthorized'],
      [await call('POST', '/v1/snapshots', { body: { name: 'app' } }), 400, 'validation_failed'],
      [await call('DELETE', '/v1/snapshots/Not.A.Name'), 400, 'validation_failed'],
    ] as const;
    for (const [res, status, code] of refusals) {
      assert.equal(res.status, status);
      assert.equal(res.body.error.code, code);
      assert.equal(res.headers.get('deprecation'), 'true');
      assert.equal(res.headers.get('link'), SUCCESSOR);
    }
  });

  it('validates /v1/templates as the alias does, without the deprecation headers', async () => {
    const bad = await call('POST', '/v1/templates', { body: { sandbox_id: 'sb_01', name: 'with.dot' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'validation_failed');
    assert.equal(bad.headers.get('deprecation'), null);
    const badName = await call('DELETE', '/v1/templates/Not.A.Name');
    assert.equal(badName.status, 400);
    assert.equal(badName.headers.get('deprecation'), null);
  });
});

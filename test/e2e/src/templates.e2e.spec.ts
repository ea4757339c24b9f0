import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Platform, startPlatform } from './platform';

/**
 * Templates through REST (`/v1/templates`, and `/v1/snapshots`, its deprecated name): a running sandbox frozen under a name; sandboxes from it start
 * with its files and its size, and do not see each other's writes; a template in use cannot be
 * deleted; names that could reach a path or fool a reader are refused and change nothing.
 */
describe('templates', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform('tpl');
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    for (const row of await p.sql(`SELECT name FROM templates WHERE state = 'ready'`).catch(() => [])) {
      await p.api('DELETE', `/v1/templates/${row.name}`).catch(() => undefined);
    }
    await p.stop();
  });

  const exec = async (id: string, script: string) => (await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sh', args: ['-c', script] })).body;

  it('freezes a sandbox into a template whose sandboxes share its files, not each other’s writes', async () => {
    const source = (await p.api('POST', '/v1/sandboxes', { memory_mb: 256 })).body.id;
    const seeded = await exec(source, 'mkdir -p /srv/app && echo from-template > /srv/app/seed.txt');
    assert.equal(seeded.exit_code, 0, JSON.stringify(seeded));

    const made = await p.api('POST', '/v1/templates', { sandbox_id: source, name: 'e2e-app' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.name, 'e2e-app');
    assert.equal(made.body.state, 'ready');
    assert.equal(made.body.memory_mb, 256);
    assert.equal(made.body.vcpus, 1);
    assert.equal(made.body.host_id, p.hostId);
    assert.match(made.body.id, /^tpl_[0-9a-z]{26}$/);
    // The source keeps running.
    assert.equal((await exec(source, 'cat /srv/app/seed.txt')).stdout, 'from-template\n');

    const listed = await p.api('GET', '/v1/templates');
    assert.deepEqual(listed.body.templates.map((s: { name: string }) => s.name), ['e2e-app']);

    assert.equal((await p.api('POST', '/v1/templates', { sandbox_id: source, name: 'e2e-app' })).body.error.code, 'template_exists');
    const reserved = await p.api('POST', '/v1/templates', { sandbox_id: source, name: 'base' });
    assert.equal(reserved.status, 409);
    assert.equal(reserved.body.error.code, 'template_exists');

    const a = await p.api('POST', '/v1/sandboxes', { template: 'e2e-app' });
    const b = await p.api('POST', '/v1/sandboxes', { template: 'e2e-app', memory_mb: 256 });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(b.status, 201, JSON.stringify(b.body));
    for (const sb of [a.body, b.body]) {
      assert.equal(sb.memory_mb, 256, 'the template locks the memory');
      assert.equal(sb.template, 'e2e-app');
      assert.equal(sb.template_id, made.body.id);
      assert.equal((await exec(sb.id, 'cat /srv/app/seed.txt')).stdout, 'from-template\n');
    }
    assert.equal((await exec(a.body.id, 'echo only-a > /srv/app/a.txt')).exit_code, 0);
    assert.equal((await exec(b.body.id, 'test -e /srv/app/a.txt && echo seen || echo unseen')).stdout, 'unseen\n');
    assert.equal((await exec(source, 'test -e /srv/app/a.txt && echo seen || echo unseen')).stdout, 'unseen\n');

    const resized = await p.api('POST', '/v1/sandboxes', { template: 'e2e-app', memory_mb: 512 });
    assert.equal(resized.status, 400);
    assert.equal(resized.body.error.code, 'validation_failed');
    const missing = await p.api('POST', '/v1/sandboxes', { template: 'no-such-template' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'template_not_found');

    // In use while any sandbox from it is not stopped — a paused one too (it resumes on its files).
    assert.equal((await p.api('POST', `/v1/sandboxes/${a.body.id}/pause`)).body.state, 'paused');
    assert.equal((await p.deleteSandbox(b.body.id)).state, 'deleted');
    const inUse = await p.api('DELETE', '/v1/templates/e2e-app');
    assert.equal(inUse.status, 409);
    assert.equal(inUse.body.error.code, 'template_in_use');
    assert.deepEqual(inUse.body.error.details.sandbox_ids, [a.body.id]);
    // A sandbox from a template resumes on the template's layer: its own write and the seed are there.
    assert.equal((await p.api('POST', `/v1/sandboxes/${a.body.id}/resume`)).body.state, 'running');
    assert.equal((await exec(a.body.id, 'cat /srv/app/seed.txt /srv/app/a.txt')).stdout, 'from-template\nonly-a\n');
    assert.equal((await p.deleteSandbox(a.body.id)).state, 'deleted');

    const deleted = await p.api('DELETE', '/v1/templates/e2e-app');
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(deleted.body.state, 'deleted');
    assert.deepEqual((await p.api('GET', '/v1/templates')).body.templates, []);
    assert.equal((await p.api('POST', '/v1/sandboxes', { template: 'e2e-app' })).body.error.code, 'template_not_found');
    assert.equal((await p.api('DELETE', '/v1/templates/e2e-app')).body.error.code, 'template_not_found');

    // The name is free again.
    const again = await p.api('POST', '/v1/templates', { sandbox_id: source, name: 'e2e-app' });
    assert.equal(again.status, 201);
    assert.notEqual(again.body.id, made.body.id);

    const story = (await p.cli('template', 'history', made.body.id)).stdout;
    assert.match(story, /template\.requested[\s\S]*template\.created[\s\S]*template\.deleted/);
    const tail = (await p.cli('events', 'tail', '-n', '200')).stdout;
    for (const type of ['template.requested', 'template.created', 'template.deleted']) assert.ok(tail.includes(type), `${type} in events tail`);
  });

  it('refuses a template of a sandbox that is not running, or of another id', async () => {
    const id = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/pause`)).body.state, 'paused');
    const paused = await p.api('POST', '/v1/templates', { sandbox_id: id, name: 'from-paused' });
    assert.equal(paused.status, 409);
    assert.equal(paused.body.error.code, 'invalid_state');
    const unknown = await p.api('POST', '/v1/templates', { sandbox_id: 'sb_00000000000000000000000000', name: 'nobody' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'sandbox_not_found');
    await p.api('DELETE', `/v1/sandboxes/${id}`);
  });

  it('rejects names that could traverse paths or look like others with 400, changing nothing', async () => {
    const id = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    const names = ['../x', 'a/b', '', 'x'.repeat(300), 'ｂase', 'a\u0000b', '..', '.', 'Base', 'a b', 'name\n', 'é'];
    const rowsBefore = await p.sql('SELECT count(*)::int AS n FROM templates');
    const logBefore = (await p.cli('events', 'tail', '-n', '1000', '--json')).stdout;
    for (const name of names) {
      const res = await p.api('POST', '/v1/templates', { sandbox_id: id, name });
      assert.equal(res.status, 400, `POST ${JSON.stringify(name)}`);
      assert.equal(res.body.error.code, 'validation_failed');
      const asTemplate = await p.api('POST', '/v1/sandboxes', { template: name });
      assert.equal(asTemplate.status, 400, `create from ${JSON.stringify(name)}`);
      if (name !== '' && name !== '.' && name !== '..') {
        const del = await p.api('DELETE', `/v1/templates/${encodeURIComponent(name)}`);
        assert.equal(del.status, 400, `DELETE ${JSON.stringify(name)}`);
        assert.equal(del.body.error.code, 'validation_failed');
      }
    }
    const missingName = await p.api('POST', '/v1/templates', { sandbox_id: id });
    assert.equal(missingName.status, 400);
    assert.deepEqual(await p.sql('SELECT count(*)::int AS n FROM templates'), rowsBefore);
    const logAfter = (await p.cli('events', 'tail', '-n', '1000', '--json')).stdout;
    const templateEvents = (text: string) => text.split('\n').filter((l) => l.includes('"template.')).length;
    assert.equal(templateEvents(logAfter), templateEvents(logBefore), 'no template event was written');
    assert.ok(!/\.\.|ｂ/.test(JSON.stringify(await p.sql('SELECT name FROM templates'))));
    await p.api('DELETE', `/v1/sandboxes/${id}`);
  });

  it('serves the deprecated /v1/snapshots routes for one release: the same calls, both list keys, Deprecation and Link on every answer', async () => {
    const source = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    const successor = '</v1/templates>; rel="successor-version"';
    const made = await p.api('POST', '/v1/snapshots', { sandbox_id: source, name: 'old-name' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.name, 'old-name');
    const listed = await p.api('GET', '/v1/snapshots');
    // (The first test left its e2e-app behind.)
    assert.ok(listed.body.snapshots.some((t: { name: string }) => t.name === 'old-name'), JSON.stringify(listed.body));
    assert.deepEqual(listed.body.templates, listed.body.snapshots);
    // The same template under the new name, and a sandbox starts from it.
    assert.deepEqual((await p.api('GET', '/v1/templates')).body.templates, listed.body.templates);
    const child = await p.api('POST', '/v1/sandboxes', { template: 'old-name' });
    assert.equal(child.status, 201, JSON.stringify(child.body));
    const inUse = await p.api('DELETE', '/v1/snapshots/old-name');
    assert.equal(inUse.body.error.code, 'template_in_use');
    await p.deleteSandbox(child.body.id);
    const deleted = await p.api('DELETE', '/v1/snapshots/old-name');
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(deleted.body.state, 'deleted');
    assert.ok(!(await p.api('GET', '/v1/snapshots')).body.snapshots.some((t: { name: string }) => t.name === 'old-name'));
    for (const res of [made, listed, inUse, deleted]) {
      assert.equal(res.headers.get('deprecation'), 'true');
      assert.equal(res.headers.get('link'), successor);
    }
    assert.equal(child.headers.get('deprecation'), null);
    await p.api('DELETE', `/v1/sandboxes/${source}`);
  });
});

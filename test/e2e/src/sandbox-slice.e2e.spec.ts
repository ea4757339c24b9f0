import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventStore } from '@wrenn/eventlog';
import { eventually } from '@wrenn/testing';
import { Platform, startPlatform } from './platform';
import { asCold } from './lifecycle-events';

describe('REST slice: create → exec → delete', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform('slice');
  });
  after(async () => {
    // Leave nothing running even when a test failed halfway.
    const { body } = await p.api('GET', '/v1/sandboxes?state=running').catch(() => ({ body: { sandboxes: [] } }));
    for (const sb of body?.sandboxes ?? []) await p.api('DELETE', `/v1/sandboxes/${sb.id}`).catch(() => undefined);
    await p.stop();
  });

  it('says ok in the public /healthz, and reports NATS, PostgreSQL and the live host in /v1/health to a key', async () => {
    const pub = await p.api('GET', '/healthz', undefined, { auth: 'none' });
    assert.equal(pub.status, 200);
    assert.deepEqual(pub.body, { status: 'ok' }, 'nothing but ok or not for anonymous callers');
    assert.equal((await p.api('GET', '/v1/health', undefined, { auth: 'none' })).status, 401);
    const { status, body } = await p.api('GET', '/v1/health');
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.equal(body.nats.ok, true);
    assert.equal(body.postgres.ok, true);
    assert.equal(body.hosts.live, 1);
    assert.equal(body.hosts.items[0].id, p.hostId);
  });

  let id = '';
  it('creates a running sandbox and answers with the full object', async () => {
    const { status, body } = await p.api('POST', '/v1/sandboxes', { template: 'base', vcpus: 1, memory_mb: 256, timeout_sec: 0 });
    assert.equal(status, 201, JSON.stringify(body));
    assert.match(body.id, /^sb_[0-9a-z]{26}$/);
    assert.equal(body.state, 'running');
    assert.equal(body.template, 'base');
    assert.equal(body.vcpus, 1);
    assert.equal(body.memory_mb, 256);
    assert.equal(body.timeout_sec, 0);
    assert.equal(body.host_id, p.hostId);
    assert.ok(!Number.isNaN(Date.parse(body.created_at)));
    id = body.id;
  });

  it('reads its own write: GET and list see the new sandbox at once', async () => {
    const one = await p.api('GET', `/v1/sandboxes/${id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.state, 'running');
    const list = await p.api('GET', '/v1/sandboxes');
    assert.ok(list.body.sandboxes.some((s: { id: string }) => s.id === id));
  });

  it('runs a command inside and returns stdout, stderr and the exit code', async () => {
    const hello = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'echo', args: ['hello'] });
    assert.equal(hello.status, 200, JSON.stringify(hello.body));
    assert.equal(hello.body.stdout, 'hello\n');
    assert.equal(hello.body.exit_code, 0);
    const failing = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sh', args: ['-c', 'echo oops >&2; exit 7'] });
    assert.equal(failing.body.exit_code, 7);
    assert.equal(failing.body.stderr, 'oops\n');
    const host = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'hostname' });
    assert.equal(host.body.stdout.trim(), id);
  });

  it('kills a command that runs past its timeout', async () => {
    const started = Date.now();
    const slow = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sleep', args: ['30'], timeout_sec: 1 });
    assert.equal(slow.status, 200);
    assert.equal(slow.body.timed_out, true);
    assert.ok(Date.now() - started < 10_000);
  });

  it('rejects bad input with 400 validation_failed and changes nothing', async () => {
    const before = await p.sql('SELECT count(*)::int AS n FROM sandboxes');
    for (const body of [{ vcpus: 'x' }, { vcpus: 0 }, { memory_mb: 1 << 30 }, { template: '../etc' }, { surprise: true }, '{"broken json']) {
      const res = await p.api('POST', '/v1/sandboxes', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status}`);
      assert.equal(res.body.error.code, 'validation_failed');
      assert.equal(typeof res.body.error.message, 'string');
    }
    const exec = await p.api('POST', `/v1/sandboxes/${id}/exec`, { args: ['no cmd'] });
    assert.equal(exec.status, 400);
    assert.deepEqual(await p.sql('SELECT count(*)::int AS n FROM sandboxes'), before);
  });

  it('answers 404 for unknown sandboxes and templates', async () => {
    for (const path of ['/v1/sandboxes/sb_00000000000000000000000000', '/v1/sandboxes/not-an-id']) {
      const res = await p.api('GET', path);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'sandbox_not_found');
    }
    const tpl = await p.api('POST', '/v1/sandboxes', { template: 'nope' });
    assert.equal(tpl.status, 404);
    assert.equal(tpl.body.error.code, 'template_not_found');
  });

  it('deletes the sandbox: answered deleting at once, then deleted, and gone from the host', async () => {
    const dir = join(p.stateDir, 'sandboxes', id);
    assert.ok(existsSync(dir));
    const res = await p.deleteSandbox(id);
    assert.equal(res.accepted.status, 200);
    assert.equal(res.accepted.body.state, 'deleting', 'the delete answers before the host has finished');
    assert.equal(res.state, 'deleted');
    assert.equal((await p.api('GET', `/v1/sandboxes/${id}`)).body.state, 'deleted');
    assert.ok(!existsSync(dir), 'sandbox directory removed');
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(id), 'no mount left');
  });

  it('refuses illegal transitions with 409 invalid_state', async () => {
    const exec = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' });
    assert.equal(exec.status, 409);
    assert.equal(exec.body.error.code, 'invalid_state');
    const again = await p.api('DELETE', `/v1/sandboxes/${id}`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'invalid_state');
  });

  it('recorded the lifecycle on the log, in order', async () => {
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', id);
    assert.deepEqual(asCold(events.map((e) => e.type)), [
      'sandbox.requested',
      'sandbox.scheduled',
      'sandbox.started',
      'sandbox.stop_requested',
      'sandbox.stopped',
    ]);
    const seqs = events.map((e) => e.seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs);
    assert.ok(events.every((e) => e.correlationId && e.teamId === p.owner.teamId && e.actor.kind === 'api_key' && e.actor.id === p.owner.keyId));
  });

  it('a sandbox being deleted refuses exec and files with 409 sandbox_deleting, and a delete of it again finishes it', async () => {
    const created = await p.api('POST', '/v1/sandboxes', { template: 'base', memory_mb: 128, timeout_sec: 0 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const sid = created.body.id;
    // A delete whose host half never ran (its scheduler stopped right after recording it).
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { version } = await store.load('sandbox', sid);
    await store.append('sandbox', sid, [{ type: 'sandbox.stop_requested', data: {} }], { correlationId: `e2e-${sid}`, causationId: `e2e-${sid}:stop`, actor: { kind: 'system', id: 'e2e' }, teamId: p.owner.teamId }, version);
    const deleting = await eventually(async () => {
      const got = await p.api('GET', `/v1/sandboxes/${sid}`);
      return got.body.state === 'deleting' ? got : undefined;
    }, 10_000, 'the read model to show deleting');
    assert.equal(deleting.status, 200);
    const listed = await p.api('GET', '/v1/sandboxes?state=deleting');
    assert.ok(listed.body.sandboxes.some((s: { id: string }) => s.id === sid), 'listed as deleting');
    const exec = await p.api('POST', `/v1/sandboxes/${sid}/exec`, { cmd: 'true' });
    assert.equal(exec.status, 409);
    assert.equal(exec.body.error.code, 'sandbox_deleting');
    const file = await p.api('GET', `/v1/sandboxes/${sid}/files?path=/etc/hostname`);
    assert.equal(file.status, 409);
    assert.equal(file.body.error.code, 'sandbox_deleting');
    assert.ok(existsSync(join(p.stateDir, 'sandboxes', sid)), 'still on its host');
    // The delete again: the same delete, answered deleting, finished on the host this time.
    const done = await p.deleteSandbox(sid);
    assert.equal(done.accepted.body.state, 'deleting');
    assert.equal(done.state, 'deleted');
    assert.ok(!existsSync(join(p.stateDir, 'sandboxes', sid)), 'gone from its host');
    const types = (await store.load('sandbox', sid)).events.map((e) => e.type);
    assert.deepEqual(types.filter((t) => t === 'sandbox.stop_requested').length, 1, 'no second stop_requested');
    assert.equal(types.at(-1), 'sandbox.stopped');
  });

  it('rebuilds the read model from the log identical to the live one', async () => {
    // A second sandbox left running, so the tables hold more than one shape of row.
    const other = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    assert.equal(other.status, 201);
    const live = await p.sql('SELECT * FROM sandboxes ORDER BY id');
    // `wrenn replay` rebuilds every read model into a scratch schema and finds no difference.
    const check = await p.cli('replay', '--json');
    assert.equal(check.code, 0, check.stderr || check.stdout);
    const checked = JSON.parse(check.stdout);
    assert.equal(checked.differences, 0, check.stdout);
    assert.ok(checked.projections.find((r: { projection: string }) => r.projection === 'sandboxes').events >= 7);
    const rebuild = await p.cli('events', 'rebuild', '--json');
    assert.equal(rebuild.code, 0, rebuild.stderr);
    // One report line per read model.
    const reports = rebuild.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const report = reports.find((r) => r.projection === 'sandboxes');
    assert.ok(report, rebuild.stdout);
    assert.ok(report.events >= 7);
    assert.deepEqual(await p.sql('SELECT * FROM sandboxes ORDER BY id'), live);
    await p.api('DELETE', `/v1/sandboxes/${other.body.id}`);
  });

  it('tails the log readably', async () => {
    const tail = await p.cli('events', 'tail', '-n', '5');
    assert.equal(tail.code, 0, tail.stderr);
    assert.match(tail.stdout, /sandbox\.stopped\s+sandbox\/sb_/);
    const history = await p.cli('sandbox', 'history', id);
    const { events } = await (await EventStore.create(p.env.nc, p.env.naming)).load('sandbox', id);
    assert.equal(history.stdout.trim().split('\n').length, events.length, 'a line per event of the sandbox');
    assert.equal(asCold(events.map((e) => e.type)).length, 5);
  });
});

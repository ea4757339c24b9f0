import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@wrenn/testing';
import { readMeta } from './host-inspect';
import { Platform, startPlatform } from './platform';

/**
 * The inactivity timer through REST: a sandbox with timeout_sec unused that long is paused by
 * the reaper (sandbox.auto_paused); ping (or any API use) keeps one alive; the timer starts over
 * after a resume; timeout 0 never pauses.
 */
describe('TTL auto-pause', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform('ttl', { WRENN_ACTIVITY_THROTTLE_MS: '200' });
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    await p.stop();
  });

  const state = async (id: string) => (await p.sql<{ state: string }>('SELECT state FROM sandboxes WHERE id = $1', [id]))[0].state;
  const types = async (id: string) =>
    (await p.cli('sandbox', 'history', id, '--json')).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; data: any });

  it('pauses an idle sandbox, keeps a pinged one alive, and applies the timeout again after a resume', async () => {
    const idle = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128, timeout_sec: 2 })).body.id;
    const pinged = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128, timeout_sec: 2 })).body.id;
    const forever = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    assert.equal((await p.api('POST', `/v1/sandboxes/${idle}/exec`, { cmd: 'sh', args: ['-c', 'echo still-here > /root/ttl.txt'] })).body.exit_code, 0);

    // Ping one every 500 ms for 5 s — more than twice its timeout.
    const started = Date.now();
    let idlePausedAfter = 0;
    while (Date.now() - started < 5000) {
      const ping = await p.api('POST', `/v1/sandboxes/${pinged}/ping`);
      assert.equal(ping.status, 200);
      assert.equal(ping.body.id, pinged);
      assert.equal(ping.body.state, 'running', 'ping kept the sandbox running');
      if (!idlePausedAfter && (await state(idle)) === 'paused') idlePausedAfter = Date.now() - started;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(idlePausedAfter > 0, 'the idle sandbox was paused');
    assert.equal(await state(pinged), 'running');
    assert.equal(await state(forever), 'running');
    const idleEvents = await types(idle);
    assert.equal(idleEvents.find((e) => e.type === 'sandbox.pause_requested')?.data.reason, 'ttl');
    const auto = idleEvents.find((e) => e.type === 'sandbox.auto_paused');
    assert.ok(auto, 'sandbox.auto_paused is on the log');
    assert.ok(auto.data.sizeBytes > 0);
    assert.ok(!idleEvents.some((e) => e.type === 'sandbox.paused'));

    // Left alone, the pinged one goes too; the one without a timeout never does.
    await eventually(async () => (await state(pinged)) === 'paused', 8000, 'the no-longer-pinged sandbox to pause');
    assert.equal(await state(forever), 'running');

    // A ping of a paused sandbox answers it and leaves it paused.
    const pingPaused = await p.api('POST', `/v1/sandboxes/${idle}/ping`);
    assert.equal(pingPaused.status, 200);
    assert.equal(pingPaused.body.state, 'paused');

    // Resume restarts the timer: running for a while, then paused again by the same timeout.
    const resumed = await p.api('POST', `/v1/sandboxes/${idle}/resume`);
    assert.equal(resumed.body.state, 'running');
    assert.equal(resumed.body.timeout_sec, 2);
    const resumedAt = Date.now();
    assert.equal((await p.api('GET', `/v1/sandboxes/${idle}/files?path=/root/ttl.txt`)).body, 'still-here\n');
    await eventually(async () => (await state(idle)) === 'paused', 8000, 'the resumed sandbox to pause again');
    assert.ok(Date.now() - resumedAt >= 1500, 'not before its timeout');
    assert.equal((await types(idle)).filter((e) => e.type === 'sandbox.auto_paused').length, 2);
  });

  it('does not pause a sandbox under a command that runs longer than its timeout', async () => {
    const id = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128, timeout_sec: 1 })).body.id;
    const res = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sh', args: ['-c', 'sleep 4; echo done'] });
    assert.equal(res.body.stdout, 'done\n', JSON.stringify(res.body));
    assert.ok(!(await types(id)).some((e) => e.type === 'sandbox.pause_requested'), 'no pause while the command ran');
    await eventually(async () => (await state(id)) === 'paused', 8000, 'the pause once the command is over');
  });

  it('applies a timeout set after create, keeps one set while paused across the resume, and refuses bad ones', async () => {
    const id = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    const other = await p.signUp('ttl-other');
    // Refused changes change nothing.
    for (const body of [{ timeout_sec: -1 }, { timeout_sec: 7 * 24 * 3600 + 1 }, {}, { timeout_sec: 'soon' }]) {
      const bad = await p.api('POST', `/v1/sandboxes/${id}/timeout`, body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.error.code, 'validation_failed');
    }
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/timeout`, { timeout_sec: 2 }, { auth: { apiKey: other.apiKey } })).status, 404);
    assert.equal((await p.api('POST', '/v1/sandboxes/sb_00000000000000000000000000/timeout', { timeout_sec: 2 })).status, 404);
    assert.ok(!(await types(id)).some((e) => e.type === 'sandbox.timeout_changed'));

    // Created without a timeout; given one of 2 s, it is paused once idle that long.
    const set = await p.api('POST', `/v1/sandboxes/${id}/timeout`, { timeout_sec: 2 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual([set.body.state, set.body.timeout_sec], ['running', 2]);
    const setAt = Date.now();
    await eventually(async () => (await state(id)) === 'paused', 8000, 'the sandbox to pause under its new timeout');
    assert.ok(Date.now() - setAt >= 1500, 'the new timeout ran from the call');
    const events = await types(id);
    assert.deepEqual(events.find((e) => e.type === 'sandbox.timeout_changed')?.data, { timeoutSec: 2 });
    assert.equal(events.at(-1)!.type, 'sandbox.auto_paused');

    // Set while paused: the resumed sandbox has it (0 = never pauses).
    const whilePaused = await p.api('POST', `/v1/sandboxes/${id}/timeout`, { timeout_sec: 0 });
    assert.deepEqual([whilePaused.body.state, whilePaused.body.timeout_sec], ['paused', 0]);
    const resumed = await p.api('POST', `/v1/sandboxes/${id}/resume`);
    assert.deepEqual([resumed.body.state, resumed.body.timeout_sec], ['running', 0]);
    // The clock: a sandbox started after that resume with a 2 s timeout. Once the platform has
    // paused it, it would have paused this one too, had the resume kept the old 2 s.
    const control = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128, timeout_sec: 2 })).body.id;
    await eventually(async () => (await state(control)) === 'paused', 15_000, 'the control sandbox to pause');
    assert.equal(await state(id), 'running', 'no timeout, no pause');
    await p.api('DELETE', `/v1/sandboxes/${control}`);

    await p.api('DELETE', `/v1/sandboxes/${id}`);
    const stopped = await p.api('POST', `/v1/sandboxes/${id}/timeout`, { timeout_sec: 5 });
    assert.equal(stopped.status, 409);
    assert.equal(stopped.body.error.code, 'invalid_state');
  });

  it('ends, instead of pausing, an idle sandbox whose processes died outside the platform', async (t) => {
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 128, timeout_sec: 1 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const { initPid } = readMeta(p.stateDir, id);
    process.kill(initPid, 'SIGKILL');
    await eventually(async () => ['deleted', 'failed'].includes(await state(id)), 15_000, 'the dead sandbox to be settled');
    const events = (await types(id)).map((e) => e.type);
    t.diagnostic(events.join(' → '));
    assert.ok(!events.includes('sandbox.auto_paused') && !events.includes('sandbox.paused'), events.join(' '));
    await eventually(() => !existsSync(join(p.stateDir, 'sandboxes', id)), 15_000, 'its leftovers to be removed from the host');
  });

  it('fails a running sandbox that vanished from its host, with the reason, and clears its remains', async () => {
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    process.kill(readMeta(p.stateDir, id).initPid, 'SIGKILL');
    const failed = await eventually(async () => {
      const body = (await p.api('GET', `/v1/sandboxes/${id}`)).body;
      return body.state === 'failed' ? body : undefined;
    }, 15_000, 'the vanished sandbox to be failed');
    assert.match(failed.failure_reason, /no longer running on host/);
    await eventually(() => !existsSync(join(p.stateDir, 'sandboxes', id)), 15_000, 'its remains to be removed from the host');
    assert.equal((await p.deleteSandbox(id)).state, 'deleted');
  });

  it('completes a TTL pause already under way when the platform is stopped', async () => {
    const id = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128, timeout_sec: 1 })).body.id;
    // The log is watched directly: the stop is sent the moment the reaper's pause is decided.
    const sub = p.env.nc.subscribe(p.env.naming.eventSubject('sandbox', id));
    for await (const msg of sub) {
      if (msg.headers?.get('Wrenn-Event-Type') === 'sandbox.pause_requested') break;
    }
    // Throws if the platform needed SIGKILL to stop.
    await p.kill('SIGTERM');
    const jsm = await p.env.nc.jetstreamManager();
    const last = await jsm.streams.getMessage(p.env.naming.stream, { last_by_subj: p.env.naming.eventSubject('sandbox', id) });
    assert.equal(last.header.get('Wrenn-Event-Type'), 'sandbox.auto_paused', 'the pause finished before the platform stopped');
    await p.restart();
    assert.equal((await p.api('GET', `/v1/sandboxes/${id}`)).body.state, 'paused');
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/resume`)).body.state, 'running');
  });
});

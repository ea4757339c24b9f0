import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '@wrenn/testing';
import { readMeta, traces } from './host-inspect';
import { Platform, startPlatform } from './platform';

/**
 * Pause and resume through REST on the namespace runtime: a paused sandbox keeps its files and
 * nothing else (no process, mount, network slot or cgroup on the host); resuming brings the same
 * id back with the same files. Pools are off so a freed network slot shows as a removed netns.
 */
describe('pause and resume', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform('life', { WRENN_WARM_POOL_SIZE: '0', WRENN_NET_POOL_SIZE: '0' });
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    await p.stop();
  });

  const exec = async (id: string, script: string) => (await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sh', args: ['-c', script] })).body;
  const history = async (id: string) => (await p.cli('sandbox', 'history', id, '--json')).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

  it('pauses a sandbox, freeing every host resource but its files, and resumes it with the same files', async () => {
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 256 });
    assert.equal(created.status, 201);
    const id = created.body.id;
    assert.equal((await exec(id, 'echo kept > /root/note.txt && sleep 1000 > /dev/null 2>&1 &')).exit_code, 0);
    const meta = readMeta(p.stateDir, id);
    const before = traces(p.stateDir, p.hostId, id, meta);
    assert.ok(before.process && before.netns && before.mounts.length > 0 && before.cgroups.length > 0, JSON.stringify(before));

    const paused = await p.api('POST', `/v1/sandboxes/${id}/pause`);
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.state, 'paused');
    assert.equal(paused.body.snapshot_ref, `snap_${id}`);
    assert.ok(paused.body.snapshot_size_bytes > 0, 'the snapshot has a size');

    const after = traces(p.stateDir, p.hostId, id, meta);
    assert.deepEqual(after, { process: false, mounts: [], netns: false, cgroups: [], sandboxDir: false, snapshotDir: true });
    // The host's heartbeat gives the capacity back.
    const hosts = await p.env.nc.jetstream().views.kv(p.env.naming.hostsBucket);
    await eventually(async () => (await hosts.get(p.hostId))?.json<{ used: { sandboxes: number } }>().used.sandboxes === 0, 5000, 'the heartbeat to count no sandbox');

    const refused = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'invalid_state');
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/pause`)).body.error.code, 'invalid_state');

    const events = await history(id);
    const pausedEvent = events.find((e) => e.type === 'sandbox.paused');
    assert.ok(pausedEvent, 'sandbox.paused is on the log');
    assert.equal(pausedEvent.data.sizeBytes, paused.body.snapshot_size_bytes);
    assert.equal(events.find((e) => e.type === 'sandbox.pause_requested')?.data.reason, 'user');

    const resumed = await p.api('POST', `/v1/sandboxes/${id}/resume`);
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(resumed.body.state, 'running');
    assert.equal(resumed.body.snapshot_ref, null);
    const read = await p.api('GET', `/v1/sandboxes/${id}/files?path=/root/note.txt`);
    assert.equal(read.status, 200);
    assert.equal(read.body, 'kept\n');
    // Processes do not survive a pause on this runtime: the background sleep is gone.
    assert.equal((await exec(id, 'pgrep -x sleep || echo none')).stdout.trim(), 'none');
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/resume`)).body.error.code, 'invalid_state');
    assert.deepEqual((await history(id)).slice(-2).map((e) => e.type), ['sandbox.resume_requested', 'sandbox.resumed']);

    // Paused twice over: the second pause starts from the resumed state, files still there.
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/pause`)).body.state, 'paused');
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/resume`)).body.state, 'running');
    assert.equal((await exec(id, 'cat /root/note.txt')).stdout, 'kept\n');
    assert.equal((await p.deleteSandbox(id)).state, 'deleted');
  });

  it('destroys a paused sandbox on its host, snapshot included', async () => {
    const id = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    assert.equal((await p.api('POST', `/v1/sandboxes/${id}/pause`)).body.state, 'paused');
    const deleted = await p.deleteSandbox(id);
    assert.equal(deleted.accepted.status, 200);
    assert.equal(deleted.state, 'deleted');
    await eventually(() => !traces(p.stateDir, p.hostId, id, { initPid: 0, network: { index: -1 } }).snapshotDir, 5000, 'the snapshot to go');
  });

  it("answers data-plane calls of a sandbox the gateway has in memory as the read model would: another team's key 404, a deleted sandbox 409 or 404", async () => {
    const id = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    // Two calls: the second is answered with the sandbox's host from memory.
    assert.equal((await exec(id, 'true')).exit_code, 0);
    assert.equal((await exec(id, 'true')).exit_code, 0);
    const stranger = await p.signUp();
    for (const [method, path, body] of [['POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' }], ['GET', `/v1/sandboxes/${id}/files?path=/etc/hostname`, undefined], ['GET', `/v1/sandboxes/${id}/files/list?path=/`, undefined]] as const) {
      const refused = await p.api(method, path, body, { auth: { apiKey: stranger.apiKey } });
      assert.equal(refused.status, 404, `${method} ${path}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error.code, 'sandbox_not_found');
    }
    assert.equal((await exec(id, 'true')).exit_code, 0, 'the owner still reaches it');
    const accepted = await p.api('DELETE', `/v1/sandboxes/${id}`);
    assert.equal(accepted.status, 200);
    const after = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' });
    assert.equal(after.status, 409, JSON.stringify(after.body));
    assert.ok(['sandbox_deleting', 'invalid_state'].includes(after.body.error.code), after.body.error.code);
    await eventually(async () => (await p.api('GET', `/v1/sandboxes/${id}`)).body.state === 'deleted', 30_000, 'the sandbox deleted');
    const gone = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' });
    assert.equal(gone.status, 409);
    assert.equal(gone.body.error.code, 'invalid_state');
  });

  it('answers 404 for pause, resume and ping of a sandbox that does not exist', async () => {
    for (const action of ['pause', 'resume', 'ping']) {
      const res = await p.api('POST', `/v1/sandboxes/sb_00000000000000000000000000/${action}`);
      assert.equal(res.status, 404, action);
      assert.equal(res.body.error.code, 'sandbox_not_found');
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@wrenn/testing';
import { CONTROL_PLANE, HostAgentProcess } from './host-agent-process';
import { readMeta } from './host-inspect';
import { Platform, startPlatform } from './platform';

/**
 * The host agent runs as its own process and is killed with SIGKILL: its running sandboxes become
 * `lost` once its heartbeat is older than its lease, a paused one stays paused (resume answers
 * 503 and changes nothing). Started again with a new boot id, the host's leftovers — the lost
 * sandboxes it re-adopted — are destroyed, the paused one resumes, and new sandboxes start.
 */
describe('lost host', () => {
  let p: Platform;
  let agent: HostAgentProcess;
  before(async () => {
    p = await startPlatform('lost', { WRENN_WARM_POOL_SIZE: '0', WRENN_REAPER_STARTUP_GRACE_MS: '1000' }, { services: CONTROL_PLANE, waitForHost: false });
    agent = new HostAgentProcess(p);
    await agent.start();
  });
  after(async () => {
    if ((await fetch(`${p.url}/healthz`).catch(() => undefined))?.status !== 200) await agent.start().catch(() => undefined);
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    // Lost sandboxes are destroyed on the host by the reaper, not by DELETE: stop the agent only
    // once it holds nothing (bounded), so a failing run leaks nothing.
    await eventually(() => readdirSync(join(p.stateDir, 'sandboxes')).length === 0, 20_000, 'the host to be empty').catch(() => undefined);
    await p.releaseHost().catch(() => undefined);
    await agent.kill('SIGTERM');
    await p.stop();
  });

  const row = async (id: string) => (await p.api('GET', `/v1/sandboxes/${id}`)).body;

  it('marks running sandboxes lost within the lease, keeps paused ones, and cleans up when the host returns', async () => {
    const running = [(await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id, (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id];
    const paused = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    assert.equal((await p.api('POST', `/v1/sandboxes/${paused}/exec`, { cmd: 'sh', args: ['-c', 'echo survives > /root/p.txt'] })).body.exit_code, 0);
    assert.equal((await p.api('POST', `/v1/sandboxes/${paused}/pause`)).body.state, 'paused');
    const pids = running.map((id) => readMeta(p.stateDir, id).initPid);

    const killedAt = Date.now();
    await agent.kill('SIGKILL');
    // Lease 2 s + reaper pass 0.5 s; the budget leaves room for a busy 2-core machine.
    await eventually(async () => (await Promise.all(running.map(row))).every((s) => s.state === 'lost'), 10_000, 'the sandboxes to be lost');
    const lostAfter = Date.now() - killedAt;
    assert.ok(lostAfter >= 1500, `not before the lease ran out (${lostAfter} ms)`);
    for (const id of running) assert.match((await row(id)).failure_reason, /stopped sending heartbeats/);
    assert.equal((await row(paused)).state, 'paused');
    const history = (await p.cli('sandbox', 'history', running[0])).stdout;
    assert.match(history, /sandbox\.lost/);

    const refused = await p.api('POST', `/v1/sandboxes/${paused}/resume`);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'host_unavailable');
    assert.equal((await row(paused)).state, 'paused', 'a refused resume changes nothing');
    assert.ok(!(await p.cli('sandbox', 'history', paused)).stdout.includes('resume_requested'));

    await agent.start();
    // The returning agent re-adopted the lost sandboxes (they outlive it); the reaper destroys them.
    await eventually(
      () => running.every((id) => !existsSync(join(p.stateDir, 'sandboxes', id))) && pids.every((pid) => !existsSync(`/proc/${pid}`)),
      15_000,
      'the lost sandboxes to be removed from the host',
    );
    assert.deepEqual(readdirSync(join(p.stateDir, 'sandboxes')), []);
    for (const id of running) {
      const destroyed = await p.deleteSandbox(id);
      assert.equal(destroyed.state, 'deleted');
    }
    const resumed = await p.api('POST', `/v1/sandboxes/${paused}/resume`);
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal((await p.api('GET', `/v1/sandboxes/${paused}/files?path=/root/p.txt`)).body, 'survives\n');
    const fresh = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    assert.equal(fresh.status, 201);
    assert.equal(fresh.body.state, 'running');
  });
});

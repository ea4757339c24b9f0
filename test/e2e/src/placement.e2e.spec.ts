import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostHeartbeat } from '@wrenn/contracts';
import { eventually } from '@wrenn/testing';
import { Platform, startPlatform } from './platform';

/**
 * Placement by memory through REST, with the real host agent and its heartbeat. The host offers
 * 2 vCPUs and, with overcommit 1, room for exactly three sandboxes of 512 MiB of requested memory
 * ((2,560 − 1,024 reserved) × 1): CPU is not counted, so the third still starts on 2 vCPUs, and
 * the fourth is refused with 503 host_full saying memory; one destroyed makes room again.
 */
describe('placement by memory', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform('place', {
      WRENN_WARM_POOL_SIZE: '0',
      WRENN_NET_POOL_SIZE: '0',
      WRENN_HOST_VCPUS: '2',
      WRENN_HOST_MEMORY_MB: '2560',
      WRENN_HOST_MEMORY_RESERVE_MB: '1024',
      WRENN_HOST_MEMORY_OVERCOMMIT: '1',
    });
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    await p.stop();
  });

  const beat = async () => (await (await p.env.nc.jetstream().views.kv(p.env.naming.hostsBucket)).get(p.hostId))!.json<HostHeartbeat>();

  it('reports real memory and its rules in the heartbeat', async () => {
    const b = await beat();
    assert.ok(b.memory, JSON.stringify(b));
    assert.equal(b.memory.reserveMb, 1024);
    assert.equal(b.memory.overcommit, 1);
    assert.equal(b.memory.perSandboxMb, 16);
    assert.ok(b.memory.totalMb > 1024 && b.memory.usedMb > 0 && b.memory.usedMb < b.memory.totalMb, JSON.stringify(b.memory));
    assert.deepEqual(b.capacity, { vcpus: 2, memoryMb: 2560, maxSandboxes: 4096 });
  });

  it('admits past the vCPUs offered, refuses past memory with 503 host_full, and admits again once one is gone', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await p.api('POST', '/v1/sandboxes', { vcpus: 1, memory_mb: 512 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.state, 'running');
      ids.push(created.body.id);
    }
    const refused = await p.api('POST', '/v1/sandboxes', { vcpus: 1, memory_mb: 512 });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'host_full');
    assert.equal(refused.body.error.details.resource, 'memory');
    assert.match(refused.body.error.message, /memory/);
    // The answer comes before the read model has the failure (an error does not wait for it).
    const failedId = refused.body.error.details.sandbox_id;
    await eventually(async () => (await p.api('GET', `/v1/sandboxes/${failedId}`)).body.state === 'failed', 10_000, 'the refused sandbox to read failed');
    assert.match((await p.api('GET', `/v1/sandboxes/${failedId}`)).body.failure_reason, /every host is full: host \S+ is out of memory/);
    // E2B's surface says the same with its status.
    const e2b = await p.api('POST', '/e2b/sandboxes', { templateID: 'base' });
    assert.equal(e2b.status, 503, JSON.stringify(e2b.body));
    assert.equal(e2b.body.reason, 'host_full');

    assert.equal((await p.api('DELETE', `/v1/sandboxes/${ids.pop()}`)).status, 200);
    await eventually(async () => (await beat()).used.memoryMb === 1024, 10_000, 'the heartbeat to give the memory back');
    // The scheduler learns of the freed memory from the same beat through its own watch, which
    // may trail this read by a moment: a create refused in that moment is retried, as a client would.
    let again: Awaited<ReturnType<typeof p.api>> | undefined;
    await eventually(
      async () => {
        again = await p.api('POST', '/v1/sandboxes', { vcpus: 1, memory_mb: 512 });
        if (again.status !== 503) return true;
        await new Promise((r) => setTimeout(r, 200));
        return false;
      },
      5_000,
      'a create to be admitted once the heartbeat shows the memory back',
    );
    assert.equal(again!.status, 201, JSON.stringify(again!.body));
  });
});

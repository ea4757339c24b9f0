import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, HostHeartbeat, HostOp, PausedOnHost, WrennError } from '@wrenn/contracts';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { Subscription } from 'nats';
import { HostClient } from './host-client';
import { HostHeartbeats } from './host-heartbeats';
import { serve } from './rpc';

const code = (expected: ErrorCode) => (e: unknown) => e instanceof WrennError && e.code === expected;

/** The one client of host.<id>.<op>, against a stand-in agent on real NATS. */
describe('HostClient', () => {
  let env: TestEnv;
  let client: HostClient;
  const subs: Subscription[] = [];
  before(async () => {
    env = await createTestEnv('hostclient');
    client = new HostClient(env.nc, env.naming);
  });
  after(async () => {
    for (const s of subs) s.unsubscribe();
    await env.cleanup();
  });

  it("sends to the host's own subject for the op and answers the agent's reply", async () => {
    const seen: unknown[] = [];
    subs.push(serve(env.nc, env.naming.hostSubject('host-a', HostOp.Pause), async (body): Promise<PausedOnHost> => {
      seen.push(body);
      return { sandboxId: 'sb_1', snapshotRef: 'snap_sb_1', sizeBytes: 4096, elapsedMs: 3 };
    }));
    const paused = await client.send('host-a', HostOp.Pause, { commandId: 'c1', sandboxId: 'sb_1' }, 5000);
    assert.deepEqual(paused, { sandboxId: 'sb_1', snapshotRef: 'snap_sb_1', sizeBytes: 4096, elapsedMs: 3 });
    assert.deepEqual(seen, [{ commandId: 'c1', sandboxId: 'sb_1' }]);
  });

  it("passes the agent's refusal through with its code", async () => {
    subs.push(serve(env.nc, env.naming.hostSubject('host-a', HostOp.Destroy), async () => {
      throw new WrennError(ErrorCode.SandboxNotFound, 'no such sandbox here');
    }));
    await assert.rejects(client.send('host-a', HostOp.Destroy, { commandId: 'c2', sandboxId: 'sb_1' }, 5000), (e: unknown) => code(ErrorCode.SandboxNotFound)(e) && (e as Error).message === 'no such sandbox here');
  });

  it('answers 503 host_unavailable when no agent listens, 504 host_timeout when it does not answer', async () => {
    await assert.rejects(client.send('host-nobody', HostOp.List, {}, 2000), (e: unknown) => code(ErrorCode.HostUnavailable)(e) && /host host-nobody is not available/.test((e as Error).message));
    subs.push(env.nc.subscribe(env.naming.hostSubject('host-silent', HostOp.List), { callback: () => undefined }));
    await assert.rejects(client.send('host-silent', HostOp.List, {}, 300), code(ErrorCode.HostTimeout));
  });
});

describe('HostHeartbeats.requireLive', () => {
  let env: TestEnv;
  before(async () => {
    env = await createTestEnv('hostbeats');
  });
  after(async () => env.cleanup());

  it('answers a live host and refuses a stale or unknown one with 503 host_unavailable', async () => {
    const kv = await env.nc.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    const beat = (hostId: string, at: number): HostHeartbeat => ({
      hostId, bootId: 'b', runtime: 'namespace', capacity: { vcpus: 4, memoryMb: 4096, maxSandboxes: 10 },
      used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at, leaseMs: 10_000, version: 't', dataPlaneUrl: 'http://127.0.0.1:1',
    });
    await kv.put('host-live', JSON.stringify(beat('host-live', Date.now())));
    await kv.put('host-stale', JSON.stringify(beat('host-stale', Date.now() - 60_000)));
    const beats = new HostHeartbeats(env.nc, env.naming.hostsBucket);
    assert.equal((await beats.requireLive('host-live')).hostId, 'host-live');
    await assert.rejects(beats.requireLive('host-stale'), (e: unknown) => code(ErrorCode.HostUnavailable)(e) && (e as WrennError).details?.host_id === 'host-stale');
    await assert.rejects(beats.requireLive('host-unknown'), code(ErrorCode.HostUnavailable));
  });
});

describe('HostHeartbeats with a watch', () => {
  let env: TestEnv;
  before(async () => {
    env = await createTestEnv('hostbeatswatch');
  });
  after(async () => env.cleanup());

  const beat = (hostId: string, dataPlaneUrl: string): HostHeartbeat => ({
    hostId, bootId: 'b', runtime: 'namespace', capacity: { vcpus: 4, memoryMb: 4096, maxSandboxes: 10 },
    used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at: Date.now(), leaseMs: 10_000, version: 't', dataPlaneUrl,
  });

  it('answers from memory once the watch has a host, follows new beats and removals, and reads the bucket after close', async () => {
    const kv = await env.nc.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    await kv.put('host-w', JSON.stringify(beat('host-w', 'http://127.0.0.1:1')));
    const beats = new HostHeartbeats(env.nc, env.naming.hostsBucket, { watch: true });
    // Count the bucket reads the instance makes for get().
    let reads = 0;
    const view = await (beats as unknown as { view(): Promise<{ get(key: string): Promise<unknown> }> }).view();
    const realGet = view.get.bind(view);
    view.get = (key: string) => ((reads += 1), realGet(key));
    try {
      assert.equal((await beats.get('host-w'))?.dataPlaneUrl, 'http://127.0.0.1:1');
      await eventually(async () => {
        reads = 0;
        await beats.get('host-w');
        return reads === 0;
      }, 5000, 'reads served from the watch');
      for (let i = 0; i < 20; i++) await beats.get('host-w');
      assert.equal(reads, 0, 'no bucket read while the watch has the host');

      await kv.put('host-w', JSON.stringify(beat('host-w', 'http://127.0.0.1:2')));
      await eventually(async () => (await beats.get('host-w'))?.dataPlaneUrl === 'http://127.0.0.1:2', 5000, 'the new beat');
      await kv.delete('host-w');
      await eventually(async () => (await beats.get('host-w')) === undefined, 5000, 'the removal');
      assert.equal(await beats.get('host-unknown'), undefined);

      beats.close();
      await kv.put('host-w', JSON.stringify(beat('host-w', 'http://127.0.0.1:3')));
      reads = 0;
      assert.equal((await beats.get('host-w'))?.dataPlaneUrl, 'http://127.0.0.1:3');
      assert.equal(reads, 1, 'closed: read from the bucket');
    } finally {
      beats.close();
    }
  });
});

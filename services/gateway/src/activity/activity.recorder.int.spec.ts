import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WrennConfig } from '@wrenn/config';
import { createLogger } from '@wrenn/logger';
import { processTimers } from '@wrenn/service-kit';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import { KvWatchInclude } from 'nats';
import { ActivityRecorder } from './activity.recorder';

const log = createLogger('test');
log.level = 'silent';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Activity leases of open exchanges, on real NATS KV (what the TTL reaper reads). */
describe(ActivityRecorder.name, () => {
  let env: TestEnv;
  before(async () => {
    env = await createTestEnv('activity');
  });
  after(async () => env.cleanup());

  it('keeps the lease of every held sandbox ahead with one write per sandbox per renewal, however many exchanges it has open', async () => {
    const recorder = new ActivityRecorder(env.nc, env.naming, log, { activityThrottleMs: 1000 } as WrennConfig);
    const kv = await env.nc.jetstream().views.kv(env.naming.activityBucket, { history: 1 });
    const ids = Array.from({ length: 40 }, (_, i) => `sb_01jz00000000000000000000${String(i).padStart(2, '0')}`);
    const writes = new Map<string, number>();
    const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const e of watch) writes.set(e.key, (writes.get(e.key) ?? 0) + 1);
    })();
    try {
      // Three exchanges open on each sandbox at once.
      const releases = ids.flatMap((id) => [recorder.hold(id), recorder.hold(id), recorder.hold(id)]);
      await sleep(1300);
      const now = Date.now();
      for (const id of ids) {
        const until = Number((await kv.get(id))!.string());
        assert.ok(until > now + 1000, `${id}: the lease is ahead (${until - now} ms)`);
      }
      await eventually(() => ids.every((id) => (writes.get(id) ?? 0) >= 3), 5000, 'the first write and two renewals');
      // One write at the first hold, then one per 500 ms renewal: ~3 in 1.3 s; a timer per
      // exchange would make it ~9.
      for (const id of ids) assert.ok(writes.get(id)! <= 4, `${id}: ${writes.get(id)} writes`);
      assert.equal(processTimers().size, 1, 'one deadline for every renewal');

      const released = Date.now();
      for (const release of releases) release();
      await eventually(async () => {
        for (const id of ids) if (Number((await kv.get(id))!.string()) > released + 1000) return false;
        return true;
      }, 5000, 'the end recorded as plain use at the next pass, pulling the lease back');
      assert.equal(processTimers().size, 0, 'nothing held and every end written: nothing scheduled');
      const settled = new Map(writes);
      await sleep(1200);
      assert.deepEqual(writes, settled, 'no renewals once released');
    } finally {
      watch.stop();
    }
  });

  it('records a run of short exchanges on one sandbox with a few writes a second, not two per exchange, and still records the end', async () => {
    const recorder = new ActivityRecorder(env.nc, env.naming, log, { activityThrottleMs: 1000 } as WrennConfig);
    const kv = await env.nc.jetstream().views.kv(env.naming.activityBucket, { history: 1 });
    const id = 'sb_01jz00000000000000000000zz';
    let writes = 0;
    const watch = await kv.watch({ key: id, include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const _ of watch) writes++;
    })();
    try {
      // 100 exchanges one after another over about a second, as a loop of execs makes them.
      for (let i = 0; i < 100; i++) {
        const release = recorder.hold(id);
        await sleep(10);
        release();
      }
      const ended = Date.now();
      await eventually(async () => Number((await kv.get(id))!.string()) <= ended + 1000 || undefined, 5000, 'the end recorded, pulling the lease back');
      await sleep(300);
      assert.ok(writes >= 2 && writes <= 8, `${writes} writes for 100 exchanges`);
      await eventually(() => processTimers().size === 0 || undefined, 2000, 'nothing scheduled once the end is written');
    } finally {
      watch.stop();
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SlotView } from '../runtime/driver';
import { StartResources, StartState, teardown } from './lifecycle';

type AnyResources = StartResources<unknown, unknown, unknown, unknown, SlotView>;
type AnyState = StartState<unknown, unknown, unknown, unknown, SlotView>;

/** Resources whose releases log when they begin and end, each taking a turn of the event loop. */
function recording(log: string[], fail: { kill?: boolean; rootfs?: boolean } = {}): AnyResources {
  const release = (name: string, error?: boolean) => async () => {
    log.push(`${name} begins`);
    await new Promise((r) => setImmediate(r));
    log.push(`${name} ends`);
    if (error) throw new Error(`${name} failed`);
  };
  return {
    slots: { acquire: async () => undefined, release: release('slot') },
    rootfs: { make: async () => undefined, release: release('rootfs', fail.rootfs), discardDir: release('dir') },
    cgroups: { create: async () => undefined, remove: release('cgroup') },
    ids: { acquire: async () => undefined, release: release('ids') },
    driver: { cgroupLimits: () => ({}), boot: async () => undefined, kill: release('kill', fail.kill) },
    record: async () => undefined,
  } as unknown as AnyResources;
}

/** A sandbox as a destroy rebuilds it from its record: every resource held. */
const started = (): AnyState =>
  ({
    spec: { sandboxId: 'sb_order' },
    name: 'sb_order',
    dir: '/nonexistent/sb_order',
    source: {},
    envd: { token: 't' },
    dirCreated: true,
    slot: { index: 1, netnsPath: '/nonexistent', sandboxIp: '10.0.0.2' },
    root: {},
    cgroup: {},
    ids: { number: 1 },
    booted: {},
  }) as unknown as AnyState;

describe('lifecycle teardown', () => {
  it('kills first, then releases slot, root, cgroup and id range side by side, and removes the dir after all of them', async () => {
    const log: string[] = [];
    await teardown(started(), recording(log)).run();
    const at = (entry: string) => log.indexOf(entry);
    const middle = ['slot', 'rootfs', 'cgroup', 'ids'];
    for (const name of middle) {
      assert.ok(at(`${name} begins`) > at('kill ends'), `${name} waits for the kill`);
      assert.ok(at(`${name} ends`) < at('dir begins'), `the dir waits for ${name}`);
    }
    // Side by side: every one of them has begun before the first of them ends.
    const firstEnd = Math.min(...middle.map((n) => at(`${n} ends`)));
    for (const name of middle) assert.ok(at(`${name} begins`) < firstEnd, `${name} runs beside the others`);
  });

  it('releases nothing the sandbox may still use when the kill fails', async () => {
    const log: string[] = [];
    await assert.rejects(teardown(started(), recording(log, { kill: true })).run(), /kill failed/);
    assert.deepEqual(log, ['kill begins', 'kill ends']);
  });

  it('a release that fails is reported by name, and the others and the dir still run', async () => {
    const log: string[] = [];
    await assert.rejects(teardown(started(), recording(log, { rootfs: true })).run(), /rootfs: rootfs failed/);
    for (const name of ['slot', 'cgroup', 'ids', 'dir']) assert.ok(log.includes(`${name} ends`), name);
  });
});

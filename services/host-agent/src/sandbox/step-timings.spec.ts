import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { hostStepDuration } from '@wrenn/observability';
import type { SlotView } from '../runtime/driver';
import { start, START_STEPS, StartResources, StartState, teardown } from './lifecycle';
import { PAUSE_ORDER, save, SaveParts } from './save';

/** How many observations the step histogram holds for (phase, step, result). */
async function count(phase: string, step: string, result = 'ok'): Promise<number> {
  const { values } = await hostStepDuration.get();
  return values.find((v) => v.metricName?.endsWith('_count') && v.labels.phase === phase && v.labels.step === step && v.labels.result === result)?.value ?? 0;
}

async function counts(phase: string, steps: readonly string[], result = 'ok'): Promise<number[]> {
  return Promise.all(steps.map((s) => count(phase, s, result)));
}

/** Resources that acquire nothing real: the order and the timing are what is under test here. */
function resources(): StartResources<unknown, unknown, unknown, unknown, SlotView> {
  return {
    slots: { acquire: async () => ({ index: 1, netnsPath: '/nonexistent', sandboxIp: '10.0.0.2', nameservers: [] }), release: async () => undefined },
    rootfs: { make: async () => ({}), release: async () => undefined, discardDir: async () => undefined },
    cgroups: { create: async () => ({}), remove: async () => undefined },
    ids: { acquire: async () => ({ number: 1 }), release: async () => undefined },
    driver: { cgroupLimits: () => ({}), boot: async () => ({}), kill: async () => undefined },
    record: async () => undefined,
  } as unknown as ReturnType<typeof resources>;
}

const state = (): StartState<unknown, unknown, unknown, unknown, SlotView> =>
  ({ spec: { sandboxId: 'sb_timing' }, name: 'sb_timing', dir: tmpdir(), source: {}, envd: { token: 't' } }) as unknown as StartState<unknown, unknown, unknown, unknown, SlotView>;

describe('lifecycle step timings', () => {
  it('a start observes each of its steps once, and its teardown each undo once', async () => {
    const names = START_STEPS.map((s) => s.name);
    const undone = START_STEPS.filter((s) => s.undo).map((s) => s.name);
    const before = await counts('start', names);
    const tornBefore = await counts('teardown', undone);
    const stack = await start(state(), resources());
    assert.deepEqual(await counts('start', names), before.map((n) => n + 1));
    await stack.run();
    assert.deepEqual(await counts('teardown', undone), tornBefore.map((n) => n + 1));
    // A teardown rebuilt from a record (a destroy) is timed the same way.
    await teardown(state(), resources()).run();
    assert.deepEqual(await counts('teardown', undone), tornBefore.map((n) => n + 2));
  });

  it('a step that fails is observed with result error, and the steps after it not at all', async () => {
    const r = resources();
    r.cgroups.create = async () => {
      throw new Error('no cgroup');
    };
    const [failedBefore, bootBefore] = [await count('start', 'cgroup', 'error'), await count('start', 'boot')];
    await assert.rejects(start(state(), r), /no cgroup/);
    assert.equal(await count('start', 'cgroup', 'error'), failedBefore + 1);
    assert.equal(await count('start', 'boot'), bootBefore);
  });

  it('a save observes each step of its order', async () => {
    const part = { run: async () => undefined };
    const parts: SaveParts = { freeze: part, thaw: part, 'snapshot memory': part, 'snapshot disk': part, record: part, release: part };
    const before = await counts('save', PAUSE_ORDER);
    await save(PAUSE_ORDER, parts);
    assert.deepEqual(await counts('save', PAUSE_ORDER), before.map((n) => n + 1));
  });
});

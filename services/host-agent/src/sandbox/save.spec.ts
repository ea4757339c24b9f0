import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SandboxDriver } from '../runtime/driver';
import { freezeParts, PAUSE_ORDER, save, SaveParts, SaveStepName, TEMPLATE_ORDER } from './save';

/** Parts that log what they do; `fail` makes that step's run throw, `final` marks steps that cannot be undone. */
function recorder(o: { fail?: SaveStepName; final?: SaveStepName[] } = {}) {
  const log: string[] = [];
  const part = (name: SaveStepName) => ({
    final: o.final?.includes(name),
    run: async () => {
      if (o.fail === name) throw new Error(`${name} failed`);
      log.push(name);
    },
    undo: async () => void log.push(`undo ${name}`),
  });
  const parts: SaveParts = { freeze: part('freeze'), thaw: part('thaw'), 'snapshot memory': part('snapshot memory'), 'snapshot disk': part('snapshot disk'), record: part('record'), release: part('release') };
  return { log, parts };
}

describe('save (pause and snapshot-to-template)', () => {
  it('runs the pause and template orders as the lifecycle defines them', async () => {
    const pause = recorder();
    await save(PAUSE_ORDER, pause.parts);
    assert.deepEqual(pause.log, ['freeze', 'snapshot memory', 'snapshot disk', 'record', 'release']);
    const template = recorder();
    await save(TEMPLATE_ORDER, template.parts);
    assert.deepEqual(template.log, ['freeze', 'snapshot memory', 'snapshot disk', 'thaw', 'record']);
  });

  it('a failure after the freeze unwinds what ran, thawing last, and rethrows', async () => {
    const { log, parts } = recorder({ fail: 'snapshot disk' });
    await assert.rejects(save(PAUSE_ORDER, parts), /snapshot disk failed/);
    assert.deepEqual(log, ['freeze', 'snapshot memory', 'undo snapshot memory', 'thaw']);
  });

  it('a failure at a checkpoint is a failure of that step', async () => {
    const { log, parts } = recorder();
    await assert.rejects(
      save(PAUSE_ORDER, parts, {
        checkpoint: (step) => {
          if (step === 'record') throw new Error('injected');
        },
      }),
      /injected/,
    );
    assert.deepEqual(log, ['freeze', 'snapshot memory', 'snapshot disk', 'undo snapshot disk', 'undo snapshot memory', 'thaw']);
  });

  it('a template that fails after its thaw unwinds its files without thawing twice', async () => {
    const { log, parts } = recorder({ fail: 'record' });
    await assert.rejects(save(TEMPLATE_ORDER, parts), /record failed/);
    assert.deepEqual(log, ['freeze', 'snapshot memory', 'snapshot disk', 'thaw', 'undo snapshot disk', 'undo snapshot memory']);
  });

  it("freezes through the driver when it can (a microVM's vCPUs), else through the sandbox's cgroup", async () => {
    const log: string[] = [];
    const cgroups = { freeze: async (n: string) => void log.push(`cgroup freeze ${n}`), thaw: async (n: string) => void log.push(`cgroup thaw ${n}`) };
    const vm = { freeze: async (b: string) => void log.push(`vcpus paused ${b}`), thaw: async (b: string) => void log.push(`vcpus resumed ${b}`) };
    const driver = (own: object) => own as unknown as SandboxDriver<unknown, string, unknown>;
    for (const parts of [freezeParts(driver(vm), 'vm', cgroups, 'sb'), freezeParts(driver({}), 'ns', cgroups, 'sb')]) {
      await parts.freeze.run();
      await parts.thaw.run();
    }
    assert.deepEqual(log, ['vcpus paused vm', 'vcpus resumed vm', 'cgroup freeze sb', 'cgroup thaw sb']);
  });

  it('nothing is unwound once a final step has begun, nor once the save is recorded', async () => {
    const cut = recorder({ fail: 'record', final: ['snapshot disk'] });
    await assert.rejects(save(PAUSE_ORDER, cut.parts), /record failed/);
    assert.deepEqual(cut.log, ['freeze', 'snapshot memory', 'snapshot disk'], 'left for a retry to complete');
    const retry = recorder({ final: ['snapshot disk'] });
    await save(PAUSE_ORDER, retry.parts, { from: 'snapshot disk' });
    assert.deepEqual(retry.log, ['snapshot disk', 'record', 'release']);
    const recorded = recorder({ fail: 'release' });
    await assert.rejects(save(PAUSE_ORDER, recorded.parts), /release failed/);
    assert.deepEqual(recorded.log, ['freeze', 'snapshot memory', 'snapshot disk', 'record'], 'a recorded snapshot stays');
  });
});

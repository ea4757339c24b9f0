import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WarmPool } from './warm-pool';
import { WarmPlanConfig } from './warm-plan';

const plan = (over: Partial<WarmPlanConfig> = {}): WarmPlanConfig => ({ floor: { 'image:base': 2 }, perTemplateMax: 8, max: 16, demandPerMin: 1, startingMax: 2, startIntervalMs: 0, ...over });

/** Starts that finish when the test says, so what is in flight at each moment can be counted. */
function gatedStarts() {
  const pending: Array<{ key: string; done: () => void; fail: (e: Error) => void }> = [];
  let peak = 0;
  let n = 0;
  const destroyed: string[] = [];
  return {
    pending,
    destroyed,
    get peak() {
      return peak;
    },
    start: (key: string) =>
      new Promise<string>((resolve, reject) => {
        const item = `${key}#${n++}`;
        pending.push({ key, done: () => resolve(item), fail: reject });
        peak = Math.max(peak, pending.length);
      }),
    destroy: async (item: string) => {
      destroyed.push(item);
    },
    async finishAll() {
      while (pending.length) {
        pending.shift()!.done();
        await new Promise((r) => setImmediate(r));
      }
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('WarmPool', () => {
  it('a burst of creates never has more than startingMax warm starts in flight', async () => {
    const g = gatedStarts();
    const pool = new WarmPool<string>({ plan: plan({ startingMax: 2, perTemplateMax: 50 }), start: g.start, destroy: g.destroy, refillDelayMs: 0 });
    pool.start();
    for (let i = 0; i < 30; i++) assert.equal(pool.take('template:tpl_a'), undefined);
    await tick();
    assert.equal(g.pending.length, 2);
    // Each finished start lets exactly one more begin.
    for (let round = 0; round < 10; round++) {
      g.pending.shift()!.done();
      await tick();
      await tick();
      assert.ok(g.pending.length <= 2, `in flight ${g.pending.length}`);
    }
    assert.equal(g.peak, 2);
    await g.finishAll();
    await pool.stop();
  });

  it('refills a take only after refillDelayMs, so the claim does not share the machine with a start', async () => {
    const g = gatedStarts();
    const pool = new WarmPool<string>({ plan: plan({ demandPerMin: 0, floor: { 'image:base': 1 } }), start: g.start, destroy: g.destroy, refillDelayMs: 30 });
    pool.start();
    await g.finishAll();
    assert.ok(pool.take('image:base'));
    await tick();
    assert.equal(g.pending.length, 0, 'no start right behind the take');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(g.pending.length, 1, 'the refill began after the delay');
    await g.finishAll();
    await pool.stop();
  });

  it('hands out what it started and refills behind the take', async () => {
    const g = gatedStarts();
    const pool = new WarmPool<string>({ plan: plan({ demandPerMin: 0 }), start: g.start, destroy: g.destroy, refillDelayMs: 0 });
    pool.start();
    await g.finishAll();
    assert.equal(pool.readyCount('image:base'), 2);
    const item = pool.take('image:base');
    assert.match(item!, /^image:base#/);
    await tick();
    assert.equal(g.pending.length, 1, 'one start to get back to the floor');
    await g.finishAll();
    assert.equal(pool.readyCount('image:base'), 2);
    await pool.stop();
    assert.equal(g.destroyed.length, 2, 'stop destroys the ready ones');
  });

  it('leaves a key whose start failed alone for a while', async () => {
    const g = gatedStarts();
    const pool = new WarmPool<string>({ plan: plan({ startingMax: 1 }), start: g.start, destroy: g.destroy, refillDelayMs: 0 });
    pool.start();
    g.pending.shift()!.fail(new Error('no image'));
    await tick();
    await tick();
    assert.equal(g.pending.length, 0, 'not retried at once');
    await pool.stop();
  });

  it('drop destroys the key\'s ready and in-flight warm sandboxes', async () => {
    const g = gatedStarts();
    const pool = new WarmPool<string>({ plan: plan({ floor: {}, startingMax: 2 }), start: g.start, destroy: g.destroy, refillDelayMs: 0 });
    pool.start();
    pool.take('template:tpl_a');
    pool.take('template:tpl_a');
    await tick();
    g.pending.shift()!.done();
    await tick();
    await tick();
    assert.equal(pool.readyCount('template:tpl_a'), 1);
    const dropping = pool.drop('template:tpl_a');
    await tick();
    while (g.pending.length) {
      g.pending.shift()!.done();
      await tick();
    }
    await dropping;
    assert.equal(pool.readyCount('template:tpl_a'), 0);
    assert.ok(g.destroyed.length >= 2, `destroyed ${g.destroyed.join(',')}`);
    await pool.stop();
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEMAND_WINDOW_MS, nextWarmStart, WarmDemand, warmSurplus, warmTargets, WarmPlanConfig } from './warm-plan';

const config = (over: Partial<WarmPlanConfig> = {}): WarmPlanConfig => ({
  floor: { 'image:base': 2 },
  perTemplateMax: 8,
  max: 16,
  demandPerMin: 4,
  startingMax: 1,
  startIntervalMs: 100,
  ...over,
});

const demandOf = (entries: Record<string, number>, at = 0): WarmDemand => {
  const d = new WarmDemand();
  for (const [key, n] of Object.entries(entries)) for (let i = 0; i < n; i++) d.record(key, at);
  return d;
};

describe('warm pool sizing', () => {
  it('keeps the floor with no demand, and one more per demandPerMin creates of the last minute', () => {
    assert.deepEqual([...warmTargets(config(), new WarmDemand(), 0)], [['image:base', 2]]);
    assert.deepEqual([...warmTargets(config(), demandOf({ 'image:base': 1 }), 0)], [['image:base', 3]]);
    assert.deepEqual([...warmTargets(config(), demandOf({ 'image:base': 4 }), 0)], [['image:base', 3]]);
    assert.deepEqual([...warmTargets(config(), demandOf({ 'image:base': 5 }), 0)], [['image:base', 4]]);
    // A template with no floor gets warm sandboxes from its demand alone.
    assert.deepEqual(warmTargets(config(), demandOf({ 'template:tpl_a': 9 }), 0).get('template:tpl_a'), 3);
  });

  it('forgets demand older than a minute', () => {
    const d = demandOf({ 'template:tpl_a': 9 }, 1_000);
    assert.equal(d.count('template:tpl_a', 1_000 + DEMAND_WINDOW_MS - 1), 9);
    assert.equal(d.count('template:tpl_a', 1_000 + DEMAND_WINDOW_MS), 0);
    assert.equal(warmTargets(config(), d, 1_000 + DEMAND_WINDOW_MS).has('template:tpl_a'), false);
  });

  it('caps each template and the total; floors first, then the busiest templates', () => {
    const busy = demandOf({ 'template:tpl_a': 100, 'template:tpl_b': 8, 'template:tpl_c': 1 });
    const capped = warmTargets(config({ perTemplateMax: 5, max: 9 }), busy, 0);
    assert.deepEqual(Object.fromEntries(capped), { 'image:base': 2, 'template:tpl_a': 5, 'template:tpl_b': 2 });
    assert.equal([...capped.values()].reduce((a, b) => a + b), 9);
    assert.deepEqual([...warmTargets(config({ max: 0 }), busy, 0)], []);
  });

  it('demandPerMin 0 keeps only the floors', () => {
    assert.deepEqual([...warmTargets(config({ demandPerMin: 0 }), demandOf({ 'image:base': 50, 'template:tpl_a': 50 }), 0)], [['image:base', 2]]);
  });
});

describe('warm pool refill pace', () => {
  const targets = new Map([['image:base', 3], ['template:tpl_a', 2]]);
  const none = new Map<string, number>();

  it('starts the most short key first', () => {
    assert.deepEqual(nextWarmStart(config(), targets, { ready: new Map([['image:base', 2]]), starting: none }, 0), { start: 'template:tpl_a' });
    assert.deepEqual(nextWarmStart(config(), targets, { ready: new Map([['template:tpl_a', 2]]), starting: none }, 0), { start: 'image:base' });
  });

  it('never has more than startingMax warm starts in flight', () => {
    assert.deepEqual(nextWarmStart(config({ startingMax: 1 }), targets, { ready: none, starting: new Map([['image:base', 1]]) }, 1_000), {});
    // Both short by 2 (the starting one counts): the tie goes to the first target.
    assert.deepEqual(nextWarmStart(config({ startingMax: 2 }), targets, { ready: none, starting: new Map([['image:base', 1]]) }, 1_000), { start: 'image:base' });
    assert.deepEqual(nextWarmStart(config({ startingMax: 3 }), targets, { ready: none, starting: new Map([['image:base', 2]]) }, 1_000), { start: 'template:tpl_a' });
  });

  it('spaces starts by startIntervalMs and says how long to wait', () => {
    assert.deepEqual(nextWarmStart(config({ startingMax: 4 }), targets, { ready: none, starting: none, lastStartAt: 950 }, 1_000), { retryInMs: 50 });
    assert.deepEqual(nextWarmStart(config({ startingMax: 4 }), targets, { ready: none, starting: none, lastStartAt: 900 }, 1_000), { start: 'image:base' });
  });

  it('starts nothing when every key is at its target (starting ones count)', () => {
    assert.deepEqual(nextWarmStart(config(), targets, { ready: new Map([['image:base', 2], ['template:tpl_a', 2]]), starting: new Map([['image:base', 1]]) }, 0), {});
  });

  it('names the surplus of keys whose target fell', () => {
    assert.deepEqual(Object.fromEntries(warmSurplus(new Map([['image:base', 2]]), new Map([['image:base', 5], ['template:tpl_a', 1]]))), { 'image:base': 3, 'template:tpl_a': 1 });
  });
});

#!/usr/bin/env node
// What one create + delete costs in the host agent's and the scheduler's in-memory bookkeeping
// with 10 versus 1,000 (and 4,000) sandboxes already live: network slot allocation, id-range
// allocation (files under a temp dir, with another agent on the machine holding as many), the
// process timer queue, and the team-quota decision. Each figure is the mean of BENCH_ROUNDS
// cycles (default 20,000 after a warm-up; id ranges a tenth of that) in µs, and the ratio to the 10-live figure.
// No root, no services. The goal of this work: at 1,000 live, no more than 1.5× the cost at 10.
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { SlotAllocator } = require('../services/host-agent/dist/networking/slot-allocator.js');
const { IdRanges } = require('../services/host-agent/dist/ids/id-ranges.js');
const { TimerQueue } = require('../libs/service-kit/dist/timer-queue.js');
const { quotaDecider } = require('@wrenn/domain');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20000);
const LIVE = [10, 1000, 4000];

function timed(rounds, fn) {
  for (let i = 0; i < Math.min(rounds, 2000); i++) fn(-1 - i); // warm up (JIT), not measured
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) fn(i);
  return ((performance.now() - t0) * 1000) / rounds;
}
async function timedAsync(rounds, fn) {
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await fn(i);
  return ((performance.now() - t0) * 1000) / rounds;
}

const rows = [];
function report(name, costs) {
  const base = costs[0];
  rows.push(`${name.padEnd(34)} ${costs.map((c, i) => `${LIVE[i]} live: ${c.toFixed(2).padStart(8)} µs (${(c / base).toFixed(2)}×)`).join('   ')}`);
}

// Network slots: the worst case for a cursor is a full range with the one free slot last.
report('network slot allocate + release', LIVE.map((live) => {
  const a = new SlotAllocator('10.0.0.0/12', live + 1);
  for (let i = 0; i < live + 1; i++) a.allocate();
  a.release(live + 1);
  timed(200, () => a.release(a.allocate().index)); // warm up
  return timed(ROUNDS, () => a.release(a.allocate().index));
}));

// Id ranges: another agent holds `live` ranges from 0 up; ours asks with hints inside them.
const idCosts = [];
for (const live of LIVE) {
  const dir = await mkdtemp(join(tmpdir(), 'wrenn-bench-idr-'));
  try {
    const other = new IdRanges('oth', dir);
    for (let i = 0; i < live; i++) await other.acquire(`sb_o${i}`, i);
    const ours = new IdRanges('our', dir);
    // The first acquires step over the other agent's ranges once (per lap of ~49,000 numbers);
    // measured is what follows.
    for (let i = 0; i < 50; i++) await ours.release((await ours.acquire(`sb_w${i}`, i % live)).number);
    idCosts.push(await timedAsync(Math.max(50, ROUNDS / 10), async (i) => {
      const range = await ours.acquire(`sb_${i}`, i % live);
      await ours.release(range.number);
    }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
report('id range acquire + release', idCosts);

// Timer queue: `live` deadlines pending (one per sandbox), then schedule + cancel one more.
report('timer schedule + cancel', LIVE.map((live) => {
  const q = new TimerQueue();
  for (let i = 0; i < live; i++) q.schedule(60_000 + i, () => undefined);
  const cost = timed(ROUNDS, () => q.schedule(30_000, () => undefined).cancel());
  q.clear();
  return cost;
}));

// Team quota: decide + evolve of one reserve and its release with `live` holdings already there
// (the scheduler's fold is cached; this is the work per command on top of the log round trips).
report('quota reserve + release (decide)', LIVE.map((live) => {
  const limits = { runningSandboxes: 1e9, vcpus: 1e9, memoryMb: 1e12, pausedSandboxes: 1e9, snapshotBytes: 1e15, createsPerMinute: 1e9 };
  let state = quotaDecider.initialState();
  // Created a minute apart: the sliding create window holds one, as under a steady create rate.
  for (let i = 0; i < live; i++) {
    for (const e of quotaDecider.decide({ type: 'ReserveCreate', sandboxId: `sb_${i}`, vcpus: 1, memoryMb: 128, at: i * 61_000, limits }, state)) state = quotaDecider.evolve(state, e);
  }
  const now = live * 61_000;
  return timed(ROUNDS, (i) => {
    let s = state;
    for (const e of quotaDecider.decide({ type: 'ReserveCreate', sandboxId: `sb_new${i}`, vcpus: 1, memoryMb: 128, at: now, limits }, s)) s = quotaDecider.evolve(s, e);
    for (const e of quotaDecider.decide({ type: 'Release', sandboxId: `sb_new${i}`, reason: 'bench' }, s)) s = quotaDecider.evolve(s, e);
  });
}));

for (const row of rows) console.log(row);

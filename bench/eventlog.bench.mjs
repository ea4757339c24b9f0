#!/usr/bin/env node
// Event log benchmark on the real NATS and PostgreSQL of this machine:
//   1. append → projection latency (one event at a time, p50/p99),
//   2. append throughput with every projection (sandboxes, audit, usage) keeping up,
//   3. replay rate (events/s): the log grown to BENCH_REPLAY_EVENTS, rebuilt for every read model
//      at once (what `wrenn events rebuild` does) and for the sandboxes read model alone.
// Bounded: BENCH_EVENTS events through the command path (default 3000), BENCH_REPLAY_EVENTS in
// the log for replay (default 20000). Cleans up its stream and database.
import { createDataSource, migrate } from '@wrenn/db';
import { CheckpointWaiter, CommandHandler, EventStore } from '@wrenn/eventlog';
import { sandboxDecider } from '@wrenn/domain';
import { createLogger } from '@wrenn/logger';
import { allProjections, ProjectionRunner, rebuildProjections, SANDBOX_PROJECTION, sandboxProjection } from '@wrenn/projections';
import { createTestEnv } from '@wrenn/testing';
import { cpus, loadavg } from 'node:os';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 3000);
const REPLAY_TOTAL = Math.max(TOTAL, Number(process.env.BENCH_REPLAY_EVENTS ?? 20000));
const LATENCY_SAMPLES = Math.min(300, TOTAL);
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x) => `${x.toFixed(2)} ms`;

const env = await createTestEnv('bench');
const ds = createDataSource(env.databaseUrl);
await ds.initialize();
await migrate(ds);
const store = await EventStore.create(env.nc, env.naming);
await store.ensureStream();
const log = createLogger('bench');
log.level = 'error';
const runners = allProjections(env.naming).map((p) => new ProjectionRunner(env.nc, env.naming, ds, env.databaseUrl, p, log));
for (const runner of runners) await runner.start();
const waiter = new CheckpointWaiter(env.databaseUrl);
await waiter.start();
const handler = new CommandHandler(store, 'sandbox', sandboxDecider);
const meta = (i) => ({ correlationId: `c${i}`, causationId: `k${i}`, actor: { kind: 'system', id: 'bench' }, teamId: 'team_bench' });

// A sandbox's life as five commands: each one event.
const LIFE = [
  (id) => ({ type: 'RequestSandbox', sandboxId: id, teamId: 'team_bench', template: 'base', vcpus: 1, memoryMb: 256, timeoutSec: 0 }),
  () => ({ type: 'ScheduleSandbox', hostId: 'h1', bootId: 'b1' }),
  () => ({ type: 'MarkStarted', hostId: 'h1', elapsedMs: 3 }),
  () => ({ type: 'RequestStop' }),
  () => ({ type: 'MarkStopped' }),
];
let n = 0;
async function lifeStep(id, step) {
  const r = await handler.handle(id, LIFE[step](id), meta(n++));
  return r.seq;
}

try {
  // 1. Latency: append one event, wait for the projection to commit it.
  const latencies = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const id = `sb_lat${String(Math.floor(i / 5)).padStart(23, '0')}`;
    const t0 = performance.now();
    const seq = await lifeStep(id, i % 5);
    await waiter.waitFor(SANDBOX_PROJECTION, seq, 10_000);
    latencies.push(performance.now() - t0);
  }
  console.log(`append→projection latency (${LATENCY_SAMPLES} events, one at a time): p50 ${ms(pct(latencies, 50))}, p99 ${ms(pct(latencies, 99))}`);

  // 2. Throughput: 20 concurrent writers, each running sandboxes through their life.
  const remaining = TOTAL - LATENCY_SAMPLES;
  const writers = 20;
  const perWriter = Math.floor(remaining / writers / 5) * 5;
  const t0 = performance.now();
  let lastSeq = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        const id = `sb_w${String(w).padStart(2, '0')}${String(Math.floor(i / 5)).padStart(21, '0')}`;
        lastSeq = Math.max(lastSeq, await lifeStep(id, i % 5));
      }
    }),
  );
  const appendSecs = (performance.now() - t0) / 1000;
  for (const runner of runners) await waiter.waitFor(runner.projection.name, lastSeq, 120_000);
  const caughtUpSecs = (performance.now() - t0) / 1000;
  const appended = writers * perWriter;
  console.log(`append throughput: ${Math.round(appended / appendSecs)} appends/s (${appended} events, ${writers} writers, decide+append each); all three projections caught up ${((caughtUpSecs - appendSecs) * 1000).toFixed(0)} ms after the last append → ${Math.round(appended / caughtUpSecs)} events/s end to end`);

  // 3. Replay: grow the log with whole lifecycles appended straight to the store, then rebuild.
  for (const runner of runners) await runner.stop();
  const lives = Math.ceil((REPLAY_TOTAL - (await store.lastSeq())) / 5);
  const events = (id) => [
    { type: 'sandbox.requested', data: { sandboxId: id, teamId: 'team_bench', template: 'base', vcpus: 2, memoryMb: 512, timeoutSec: 0 } },
    { type: 'sandbox.scheduled', data: { hostId: 'h1', bootId: 'b1' } },
    { type: 'sandbox.started', data: { hostId: 'h1', elapsedMs: 3 } },
    { type: 'sandbox.stop_requested', data: {} },
    { type: 'sandbox.stopped', data: {} },
  ];
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    for (let i = next++; i < lives; i = next++) {
      const id = `sb_rp${String(i).padStart(23, '0')}`;
      await store.append('sandbox', id, events(id), meta(n++), 0);
    }
  }));
  // Replay is CPU-bound (NATS message parsing, decoding, PostgreSQL): the host's load matters.
  console.log(`host: ${cpus().length} cores, load average ${loadavg()[0].toFixed(1)} before the replays`);
  const all = await rebuildProjections(store, ds, allProjections(env.naming));
  const perSec = (count, ms) => Math.round((count / ms) * 1000);
  console.log(`replay, every read model (sandboxes + audit + usage, one read of the log): ${all.read} events in ${all.ms.toFixed(0)} ms → ${perSec(all.read, all.ms)} events/s (${perSec(all.read * all.results.length, all.ms)} projection-applies/s)`);
  // The CLI replays in a fresh process, like the run above; a second run shows the JIT warmed up.
  const again = await rebuildProjections(store, ds, allProjections(env.naming));
  console.log(`replay, every read model, second run in the same process: ${again.read} events in ${again.ms.toFixed(0)} ms → ${perSec(again.read, again.ms)} events/s`);
  const one = await rebuildProjections(store, ds, [sandboxProjection(env.naming)]);
  console.log(`replay, sandboxes read model alone: ${one.read} events in ${one.ms.toFixed(0)} ms → ${perSec(one.read, one.ms)} events/s`);
} finally {
  for (const runner of runners) await runner.stop();
  await waiter.stop();
  await ds.destroy();
  await env.cleanup();
}

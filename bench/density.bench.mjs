#!/usr/bin/env node
// Density: how many idle sandboxes one host holds and what each costs. Starts the whole platform,
// then creates idle sandboxes through REST up to each level N (default 100, 500, 1000) and prints
// at every level:
//   - host memory per sandbox: (MemTotal − MemAvailable now − before the first create) ÷ N, and
//     the sum of RSS and of PSS of every process started for them (each sandbox's native helper,
//     found by its command line, and everything below it), ÷ N;
//   - the platform's own processes' RSS (they grow with the sandboxes they track);
//   - create p50/p99 of the creates that reached that level, exec `true` p50/p99 on sandboxes
//     picked at random among the live ones;
// and then the time to delete them all (API answers, until no process of theirs is left, and
// until every one reads `deleted`: its host has torn it down).
// A create the host refuses ends the climb: it prints where it stopped and the code it got.
//
//   node bench/density.bench.mjs [--n 100,500,1000] [--minutes 30] [--execs 50]
//        [--concurrency 1] [--delete-concurrency 8] [--memory-mb 64] [--lift-host-limits]
//        [--env KEY=VALUE,KEY=VALUE]
// Team quotas are lifted (policy, not capacity); the host's own admission is the platform's
// default unless --lift-host-limits. Needs root and the base image. Ctrl-C deletes what it made.
import { fmt, flags, hostUsedBytes, machine, ms, pct, platformMemory, releaseAll, REPO, sandboxDir, sandboxProcesses, sleep, startBenchPlatform, stopRequested, UNLIMITED_HOST } from './support/platform-run.mjs';

const f = flags();
const LEVELS = (f.n ?? '100,500,1000').split(',').map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const DEADLINE = Date.now() + Number(f.minutes ?? 30) * 60_000;
const EXECS = Number(f.execs ?? 50);
const CONCURRENCY = Number(f.concurrency ?? 1);
const DELETE_CONCURRENCY = Number(f['delete-concurrency'] ?? 8);
const MEMORY_MB = Number(f['memory-mb'] ?? 64);
const extraEnv = Object.fromEntries((f.env ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const MiB = 1024 * 1024;

const env = { ...(f['lift-host-limits'] ? UNLIMITED_HOST : {}), ...extraEnv };
console.log(`density: levels ${LEVELS.join(', ')}, ${MEMORY_MB} MiB each, ${CONCURRENCY} creating at once; host limits ${f['lift-host-limits'] ? 'lifted' : 'as configured by default'}${Object.keys(extraEnv).length ? `; env ${JSON.stringify(extraEnv)}` : ''}`);
console.log(`machine at start: ${machine()} (a shared host: other work runs beside)`);

const p = await startBenchPlatform(REPO, 'benchdensity', env);
/** Live sandboxes this run created, in order. */
const ids = [];
const rows = [];
let stopped;
try {
  // The warm pool and the slot pool fill after boot: measure "before" once they have settled.
  await sleep(5000);
  const usedBefore = hostUsedBytes();
  const platformBefore = platformMemory(p);

  const createOne = async () => {
    const t0 = performance.now();
    const res = await p.api('POST', '/v1/sandboxes', { memory_mb: MEMORY_MB, timeout_sec: 0 });
    const took = performance.now() - t0;
    if (res.status !== 201) return { refused: { status: res.status, code: res.body?.error?.code, message: res.body?.error?.message } };
    ids.push(res.body.id);
    if (res.body.state && res.body.state !== 'running') states.add(`create → ${res.body.state}`);
    return { took };
  };
  const states = new Set();

  for (const level of LEVELS) {
    const creates = [];
    while (ids.length < level && !stopped) {
      if (stopRequested()) stopped = { reason: 'Ctrl-C' };
      else if (Date.now() > DEADLINE) stopped = { reason: `the time bound (--minutes ${f.minutes ?? 30})` };
      if (stopped) break;
      const batch = Math.min(CONCURRENCY, level - ids.length);
      const results = await Promise.all(Array.from({ length: batch }, createOne));
      for (const r of results) {
        if (r.took !== undefined) creates.push(r.took);
        else if (!stopped) stopped = { reason: 'the host refused', ...r.refused };
      }
      if (ids.length % 50 === 0 && results.some((r) => r.took !== undefined)) process.stdout.write(`  ${ids.length} sandboxes, ${machine()}\n`);
    }
    const n = ids.length;
    if (n === 0) break;
    await sleep(1000); // the pools refill after the last claim; let the memory settle a moment
    const usedNow = hostUsedBytes();
    const procs = sandboxProcesses(p.stateDir);
    const mine = new Set(ids.map((id) => sandboxDir(p.stateDir, id)));
    let rss = 0;
    let pss = 0;
    let pids = 0;
    for (const [dir, m] of procs) {
      if (mine.has(dir)) {
        rss += m.rss;
        pss += m.pss;
        pids += m.pids.length;
      }
    }
    const execs = [];
    for (let i = 0; i < EXECS && !stopRequested(); i++) {
      const id = ids[Math.floor(Math.random() * ids.length)];
      const t0 = performance.now();
      const res = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' });
      if (res.status !== 200) throw new Error(`exec answered ${res.status}: ${JSON.stringify(res.body)}`);
      execs.push(performance.now() - t0);
    }
    const platformNow = platformMemory(p);
    rows.push({ n, creates, execs, usedPer: (usedNow - usedBefore) / n, rss: rss / n, pss: pss / n, pids: pids / n, platformRss: platformNow.rss, platformGrowth: platformNow.rss - platformBefore.rss, load: machine() });
    const r = rows.at(-1);
    console.log(
      `N=${n}: host used +${((usedNow - usedBefore) / MiB).toFixed(0)} MiB = ${(r.usedPer / MiB).toFixed(2)} MiB/sandbox; ` +
        `processes ${r.pids.toFixed(1)}/sandbox, RSS ${(r.rss / MiB).toFixed(2)} MiB, PSS ${(r.pss / MiB).toFixed(2)} MiB per sandbox; ` +
        `platform RSS ${(platformNow.rss / MiB).toFixed(0)} MiB (+${(r.platformGrowth / MiB).toFixed(0)}); create ${fmt(creates)}; exec true ${fmt(execs)}; ${r.load}`,
    );
    if (stopped) break;
  }

  if (stopped) {
    const code = stopped.status ? `: ${stopped.status} ${stopped.code ?? ''} ${stopped.message ? `(${stopped.message})` : ''}` : '';
    console.log(`stopped at ${ids.length} sandboxes, by ${stopped.reason}${code}`);
  }

  // Interrupted: no timed delete (the platform may be stopping with the same Ctrl-C); release()
  // below destroys everything its host agent holds.
  if (stopRequested()) process.exit(await releaseAll().then(() => 130));

  // Delete all: the time until every DELETE answered, and until none of their processes is left.
  const dirs = new Set(ids.map((id) => sandboxDir(p.stateDir, id)));
  const t0 = performance.now();
  const queue = ids.splice(0);
  const deleting = [...queue];
  const failed = [];
  await Promise.all(
    Array.from({ length: DELETE_CONCURRENCY }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        const res = await p.api('DELETE', `/v1/sandboxes/${id}`).catch((error) => ({ status: 599, body: { error: { code: error.cause?.code ?? error.message } } }));
        if (res.status >= 300 && res.status !== 404) failed.push(`${id}: ${res.status} ${res.body?.error?.code ?? ''}`);
        else if (res.body?.state && !['stopped', 'deleted'].includes(res.body.state)) states.add(`delete → ${res.body.state}`);
      }
    }),
  );
  const answered = performance.now() - t0;
  let left = dirs.size;
  while (performance.now() - t0 < 300_000) {
    left = [...sandboxProcesses(p.stateDir).keys()].filter((d) => dirs.has(d)).length;
    if (left === 0) break;
    await sleep(100);
  }
  const gone = performance.now() - t0;
  // Delete answers once accepted; the host tears down (netns, disk, cgroup) after: the sandboxes
  // are gone once every one reads `deleted`.
  const pending = new Set(deleting);
  while (pending.size && performance.now() - t0 < 900_000 && !stopRequested()) {
    for (const id of [...pending]) {
      const res = await p.api('GET', `/v1/sandboxes/${id}`).catch(() => undefined);
      if (res && (res.status === 404 || ['deleted', 'failed', 'lost'].includes(res.body?.state))) {
        pending.delete(id);
        if (res.body?.state && res.body.state !== 'deleted') states.add(`ended ${res.body.state} after delete`);
      }
    }
    if (pending.size) await sleep(500);
  }
  const finished = performance.now() - t0;
  console.log(`delete all ${dirs.size} (${DELETE_CONCURRENCY} at once): every DELETE answered after ${(answered / 1000).toFixed(2)} s, no process of theirs left after ${(gone / 1000).toFixed(2)} s${left ? ` (${left} still had processes)` : ''}, every one \`deleted\` (host finished) after ${(finished / 1000).toFixed(2)} s${pending.size ? ` (${pending.size} not yet)` : ''}${failed.length ? `; ${failed.length} failed: ${failed.slice(0, 3).join('; ')}` : ''}`);
  if (states.size) console.log(`states other than running/deleted seen in answers: ${[...states].join(', ')}`);

  console.log('\n| N | host used / sandbox (MiB) | RSS / sandbox (MiB) | PSS / sandbox (MiB) | processes / sandbox | platform RSS (MiB) | create p50 / p99 (ms) | exec `true` p50 / p99 (ms) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.n} | ${(r.usedPer / MiB).toFixed(2)} | ${(r.rss / MiB).toFixed(2)} | ${(r.pss / MiB).toFixed(2)} | ${r.pids.toFixed(1)} | ${(r.platformRss / MiB).toFixed(0)} | ${ms(pct(r.creates, 50))} / ${ms(pct(r.creates, 99))} | ${ms(pct(r.execs, 50))} / ${ms(pct(r.execs, 99))} |`);
  }
  console.log(`delete all: ${(answered / 1000).toFixed(2)} s answered, ${(gone / 1000).toFixed(2)} s until no process left, ${(finished / 1000).toFixed(2)} s until all deleted; ${machine()} at the end`);
} catch (error) {
  // Interrupted: a call cut off by the platform's own stop is no failure of the run.
  if (!stopRequested()) throw error;
  process.exitCode = 130;
} finally {
  // What is still live (a failure or Ctrl-C midway) goes with the platform: release() destroys
  // every sandbox its host agent holds.
  await releaseAll();
}

#!/usr/bin/env node
// Throughput and latency through REST, on this tree and on a baseline commit side by side in one
// run (the baseline is checked out into a temporary worktree and built there; kept for later
// runs). For each tree, a whole platform started for it, with its defaults (warm pool, slot pool):
//   - create / exec `true` / pause / resume / delete p50 and p99, one at a time;
//   - create+delete pairs per second with 1, 4 and 16 concurrent clients (each: create, then
//     delete, again), for --seconds each;
// then, on this tree, where one create and one delete spend their time, per step, from the
// platform's own series (REST handling, the command to the scheduler, event appends, the command
// to the host agent, each step of the host's start and teardown, the wait for the read model):
// each of --breakdown operations measured alone (series read before and after it), the median printed;
// a cold create (no warm pool), a delete, and a warm create (a claim from a pool of one).
//
//   node bench/throughput.bench.mjs [--baseline a07fcfd] [--seconds 30] [--clients 1,4,16]
//        [--creates 20] [--execs 100] [--cycles 10] [--breakdown 5] [--no-baseline] [--breakdown-only [--warm-only]] [--warm-before <built tree>]
// Needs root and the base image. Team quotas are lifted (policy, not capacity). Ctrl-C stops
// and deletes what it made.
import { baselineTree, fmt, flags, histogramDelta, labelValues, machine, machineCores, machineCpuMs, ms, processCpuMs, pct, releaseAll, REPO, scrape, sleep, startBenchPlatform, stopRequested } from './support/platform-run.mjs';

/** The commit before the density and speed work (issue 17). */
const DEFAULT_BASELINE = 'a07fcfd';
const f = flags();
const SECONDS = Number(f.seconds ?? 30);
const CLIENTS = (f.clients ?? '1,4,16').split(',').map(Number);
const CREATES = Number(f.creates ?? 20);
const EXECS = Number(f.execs ?? 100);
const CYCLES = Number(f.cycles ?? 10);
const BREAKDOWN = Number(f.breakdown ?? 5);
const BODY = { memory_mb: 128, timeout_sec: 0 };

const ok = (what, res, ...statuses) => {
  if (!statuses.includes(res.status)) throw new Error(`${what} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
};

/** Warm claims the host made so far (NaN on a tree without claims). */
async function claimCount(p) {
  const samples = await scrape(p).catch(() => []);
  const found = samples.filter((s) => s.name === 'wrenn_host_sandbox_claim_duration_seconds_count');
  return found.length ? found.reduce((a, s) => a + s.value, 0) : NaN;
}

/** Waits (at most two minutes) until no sandbox is left `deleting`; whether that happened. */
async function teardownsDrained(p) {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline && !stopRequested(); ) {
    const [row] = await p.sql("select count(*)::int as n from sandboxes where state in ('deleting', 'stopping')").catch(() => [{ n: 0 }]);
    if (!row || row.n === 0) return true;
    await sleep(250);
  }
  return false;
}

/** One tree's numbers, on a platform of its own. */
async function measure(tree, label) {
  const p = await startBenchPlatform(tree, label === 'baseline' ? 'benchbase' : 'benchthis', {});
  const out = { create: [], delete: [], exec: [], pause: [], resume: [], rates: {}, cpu: {}, errors: {}, states: new Set() };
  const noteState = (what, body) => {
    if (body?.state && !['running', 'paused', 'stopped', 'deleted'].includes(body.state)) out.states.add(`${what} → ${body.state}`);
  };
  const timed = async (list, method, path, body, ...statuses) => {
    const t0 = performance.now();
    const res = await p.api(method, path, body);
    list.push(performance.now() - t0);
    return ok(`${method} ${path}`, res, ...statuses);
  };
  try {
    await sleep(3000); // the pools fill after boot
    // One at a time, with a pause between creates so the pools refill as between users' requests.
    const kept = [];
    for (let i = 0; i < CREATES && !stopRequested(); i++) {
      const created = await timed(out.create, 'POST', '/v1/sandboxes', BODY, 201);
      noteState('create', created);
      kept.push(created.id);
      if (kept.length > 1) noteState('delete', await timed(out.delete, 'DELETE', `/v1/sandboxes/${kept.shift()}`, undefined, 200, 202));
      await sleep(400);
    }
    const id = kept[0];
    for (let i = 0; i < EXECS && id && !stopRequested(); i++) await timed(out.exec, 'POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true' }, 200);
    for (let i = 0; i < CYCLES && id && !stopRequested(); i++) {
      await sleep(200);
      await timed(out.pause, 'POST', `/v1/sandboxes/${id}/pause`, undefined, 200);
      await sleep(200);
      await timed(out.resume, 'POST', `/v1/sandboxes/${id}/resume`, undefined, 200);
    }
    for (const k of kept) await p.api('DELETE', `/v1/sandboxes/${k}`);

    for (const clients of CLIENTS) {
      if (stopRequested()) break;
      await sleep(2000); // what the last phase left (refills, deletes finishing) settles
      let pairs = 0;
      const claimsBefore = await claimCount(p);
      const cpu0 = machineCpuMs();
      const platformCpu0 = processCpuMs(p.process.pid);
      const end = performance.now() + SECONDS * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (performance.now() < end && !stopRequested()) {
            const created = await p.api('POST', '/v1/sandboxes', BODY);
            if (created.status !== 201) {
              const key = `create ${created.status} ${created.body?.error?.code ?? ''}`.trim();
              out.errors[key] = (out.errors[key] ?? 0) + 1;
              await sleep(100);
              continue;
            }
            noteState('create', created.body);
            const deleted = await p.api('DELETE', `/v1/sandboxes/${created.body.id}`);
            if (deleted.status !== 200 && deleted.status !== 202) {
              const key = `delete ${deleted.status} ${deleted.body?.error?.code ?? ''}`.trim();
              out.errors[key] = (out.errors[key] ?? 0) + 1;
              continue;
            }
            noteState('delete', deleted.body);
            pairs++;
          }
        }),
      );
      out.rates[clients] = pairs / ((performance.now() - t0) / 1000);
      const load = machine();
      // A delete answers before its host tears down: the pairs' whole cost includes the teardowns
      // still running after the window, so the machine's CPU is counted until none is left.
      const drained = await teardownsDrained(p);
      const cpuPerPair = (machineCpuMs() - cpu0) / Math.max(1, pairs);
      // The platform's own share (its services, the agent, reaped helpers): the rest of the
      // machine's is NATS, PostgreSQL, the kernel's own threads, and any other work on the host.
      const platformPerPair = (processCpuMs(p.process.pid) - platformCpu0) / Math.max(1, pairs);
      const claims = (await claimCount(p)) - claimsBefore;
      out.cpu[clients] = { cpuPerPair, platformPerPair, ceiling: (machineCores() * 1000) / cpuPerPair, claims: Number.isFinite(claims) ? claims : undefined };
      console.log(
        `  ${label}: ${clients} client(s): ${out.rates[clients].toFixed(2)} create+delete/s (${pairs} in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
          `${Number.isFinite(claims) ? `${claims} warm claims; ` : ''}machine CPU ${cpuPerPair.toFixed(0)} ms per pair (the platform process ${platformPerPair.toFixed(0)})${drained ? '' : ' (teardowns not drained)'}, ` +
          `so at most ${out.cpu[clients].ceiling.toFixed(1)} pairs/s on ${machineCores()} cores; ${load})`,
      );
    }
    out.load = machine();
    return out;
  } finally {
    await p.release();
  }
}

/**
 * Where one create and one delete spend their time, from the platform's series: each operation
 * alone, the series read before and after it. Cold: on a platform without a warm pool (a warm
 * pool's refill would run its own start steps inside the window). Warm: on one with a pool of
 * one, each create a claim (one host command, one event); the pool refilled before each.
 */
async function breakdown(warm, tree = REPO) {
  const p = await startBenchPlatform(tree, warm ? 'benchwarm' : 'benchsteps', { WRENN_WARM_POOL_SIZE: warm ? '1' : '0' });
  const rows = { create: [], delete: [] };
  try {
    await sleep(3000);
    for (let i = 0; i < BREAKDOWN && !stopRequested(); i++) {
      // The slot pool refills (200 ms after a slot goes), and the warm pool (a start, ~0.1–0.3 s), as between users.
      await sleep(warm ? 1500 : 500);
      let before = await scrape(p);
      let t0 = performance.now();
      const created = ok('create', await p.api('POST', '/v1/sandboxes', BODY), 201);
      let client = performance.now() - t0;
      // The gateway observes its request when the answer is flushed; a warm pool's refill begins
      // 200 ms after the take, and its start steps are not the create's.
      await sleep(warm ? 100 : 300);
      const after = await scrape(p);
      const ran = (op) => histogramDelta(before, after, 'wrenn_command_duration_seconds', (l) => l.service === 'host-agent' && l.command === op).count > 0;
      if (warm && ran('claim')) rows.create.push(parts(before, after, client, 'start', 'POST', { hostOp: 'claim', stepPhase: 'claim' }));
      else if (warm && tree === REPO) console.log(`  warm breakdown: create ${i} went cold (no warm sandbox ready): left out`);
      // A tree from before the claim: its warm create is a host create that takes from the pool inside (no step series of its own).
      else rows.create.push(parts(before, after, client, 'start', 'POST', warm ? { hostOp: 'create', stepPhase: 'claim' } : {}));
      await sleep(500);
      before = await scrape(p);
      t0 = performance.now();
      ok('delete', await p.api('DELETE', `/v1/sandboxes/${created.id}`), 200, 202);
      client = performance.now() - t0;
      await sleep(300);
      rows.delete.push(parts(before, await scrape(p), client, 'teardown', 'DELETE'));
    }
  } finally {
    await p.release();
  }
  return rows;
}

/** One operation's time per part, in ms: measured parts and what lies between them. */
function parts(before, after, client, phase, method, { hostOp = phase === 'start' ? 'create' : 'destroy', stepPhase = phase } = {}) {
  const d = (name, match) => histogramDelta(before, after, name, match);
  const http = d('wrenn_http_request_duration_seconds', (l) => l.method === method && l.route.startsWith('/v1/sandboxes'));
  const toScheduler = d('wrenn_command_duration_seconds', (l) => l.service === 'sandbox-scheduler');
  const readModel = d('wrenn_read_model_wait_seconds');
  // Only this operation's own kind: the reaper lists the hosts' sandboxes meanwhile (host op `list`).
  const appends = d('wrenn_event_append_duration_seconds', (l) => l.aggregate === 'sandbox');
  const quotaAppends = d('wrenn_event_append_duration_seconds', (l) => l.aggregate === 'quota');
  const toHost = d('wrenn_command_duration_seconds', (l) => l.service === 'host-agent' && l.command === hostOp);
  const host = d(`wrenn_host_sandbox_${hostOp}_duration_seconds`);
  const scheduler = phase === 'start' ? d('wrenn_sandbox_create_duration_seconds') : undefined;
  // A warm create's host steps are its claim's (phase `claim`); the pool's refill, a start, is not the create's.
  const steps = labelValues(after, 'wrenn_host_sandbox_step_duration_seconds', 'step').map((step) => [step, d('wrenn_host_sandbox_step_duration_seconds', (l) => l.phase === stepPhase && l.step === step)]).filter(([, v]) => v.count > 0);
  const stepSum = steps.reduce((a, [, v]) => a + v.ms, 0);
  const row = [
    ['client: REST round trip', client],
    ['  client ↔ gateway (HTTP, JSON, connection)', client - http.ms],
    ['  gateway: REST handling', http.ms],
    ['    gateway: auth, validation, answer', http.ms - toScheduler.ms - readModel.ms],
    ['    command to the scheduler and its answer', toScheduler.ms],
  ];
  if (scheduler) {
    row.push(
      ['      NATS hop gateway ↔ scheduler', toScheduler.ms - scheduler.ms],
      ['      scheduler: template, quota and log reads, place (not appends, not the host)', scheduler.ms - appends.ms - quotaAppends.ms - toHost.ms],
      [`      quota appends (${quotaAppends.count})`, quotaAppends.ms],
    );
  } else row.push(['      scheduler: decide, NATS hops (not appends, not the host)', toScheduler.ms - appends.ms - toHost.ms]);
  row.push(
    [`      sandbox event appends (${appends.count})`, appends.ms],
    [`      command to the host agent (${hostOp}) and its answer`, toHost.ms],
    ['        NATS hop scheduler ↔ host agent', toHost.ms - host.ms],
    ['        host agent: orchestrator (checks, admission, egress policy, queue)', host.ms - stepSum],
    ...steps.map(([step, v]) => [`        host ${stepPhase}: ${step}${v.count > 1 ? ` (${v.count})` : ''}`, v.ms]),
    ['    read model (projection) wait', readModel.ms],
  );
  return row;
}

const at = process.argv.indexOf('--baseline');
const commit = at > 0 ? process.argv[at + 1] : DEFAULT_BASELINE;
console.log(`throughput: ${SECONDS} s per client count (${CLIENTS.join(', ')}), ${CREATES} creates, ${EXECS} execs, ${CYCLES} pause/resume cycles; ${machine()} at start (a shared host: other work runs beside)`);
try {
  const only = f['breakdown-only'] !== undefined;
  const base = f['no-baseline'] || only ? undefined : await measure(baselineTree(commit), 'baseline');
  // Interrupted: no new platform is started (what ran was released by its measure()).
  if (stopRequested()) process.exit(130);
  const now = only ? undefined : await measure(REPO, 'this tree');
  if (stopRequested()) process.exit(130);
  const steps = BREAKDOWN > 0 && !f['warm-only'] ? await breakdown(false) : undefined;
  if (stopRequested()) process.exit(130);
  const warmSteps = BREAKDOWN > 0 ? await breakdown(true) : undefined;
  if (stopRequested()) process.exit(130);
  // --warm-before <tree>: the same warm breakdown on another built tree (one from before the claim).
  const warmBefore = BREAKDOWN > 0 && f['warm-before'] ? await breakdown(true, f['warm-before']) : undefined;
  if (stopRequested()) process.exit(130);

  const col = (x) => ms(x).padStart(10);
  if (now) {
  console.log(`\n${base ? `baseline ${commit} (${base.load})` : 'no baseline'} vs this tree (${now.load}); ms`);
  console.log(`${''.padEnd(28)}${'p50 before'.padStart(10)}${'after'.padStart(10)}${'p99 before'.padStart(12)}${'after'.padStart(10)}`);
  for (const [name, key] of [['create', 'create'], ['exec true', 'exec'], ['pause', 'pause'], ['resume', 'resume'], ['delete', 'delete']]) {
    console.log(`${name.padEnd(28)}${col(pct(base?.[key] ?? [], 50))}${col(pct(now[key], 50))}  ${col(pct(base?.[key] ?? [], 99))}${col(pct(now[key], 99))}`);
  }
  for (const clients of CLIENTS) {
    const b = base?.rates[clients];
    console.log(`${`create+delete/s, ${clients} client(s)`.padEnd(28)}${(b === undefined ? '—' : b.toFixed(2)).padStart(10)}${(now.rates[clients]?.toFixed(2) ?? '—').padStart(10)}`);
  }
  // What one pair costs the whole machine (platform, NATS, PostgreSQL, the kernel's share of each
  // sandbox's start and teardown), and the rate that cost allows on this many cores.
  for (const clients of CLIENTS) {
    const [b, n] = [base?.cpu[clients], now.cpu[clients]];
    const cell = (c) => (c ? `${c.cpuPerPair.toFixed(0)} ms (≤ ${c.ceiling.toFixed(1)}/s; platform ${c.platformPerPair.toFixed(0)})` : '—');
    console.log(`${`CPU per pair, ${clients} client(s)`.padEnd(28)}${cell(b).padStart(40)}${cell(n).padStart(40)}`);
  }
  for (const [who, r] of [['baseline', base], ['this tree', now]]) {
    if (r && Object.keys(r.errors).length) console.log(`${who}: refused during the throughput runs: ${Object.entries(r.errors).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    if (r?.states.size) console.log(`${who}: states seen in answers: ${[...r.states].join(', ')}`);
  }
  console.log(`\nfull: create ${fmt(now.create)}; exec ${fmt(now.exec)}; pause ${fmt(now.pause)}; resume ${fmt(now.resume)}; delete ${fmt(now.delete)}`);
  }

  const table = (runsOf, title) => {
    // The run with the median REST time, whole (its parts add up), beside each part's range over all runs.
    const runs = runsOf.slice().sort((a, b) => a[0][1] - b[0][1]);
    const median = runs[Math.floor(runs.length / 2)];
    console.log(`\n${title} (this tree; the median of ${runs.length} by REST time, ms)`);
    console.log(`| part | ms | min | max |\n|---|---|---|---|`);
    const range = (i) => runs.map((r) => r[i]?.[1]).filter((x) => x !== undefined);
    median.forEach(([name, v], i) => {
      const xs = range(i);
      console.log(`| ${'· '.repeat((name.length - name.trimStart().length) / 2)}${name.trim()} | ${ms(v)} | ${ms(Math.min(...xs))} | ${ms(Math.max(...xs))} |`);
    });
  };
  if (steps?.create.length) {
    table(steps.create, 'where a cold create spends its time (warm pool off, slot pool on)');
    table(steps.delete, 'where a delete spends its time (warm pool off, slot pool on)');
  }
  if (warmBefore?.create.length) table(warmBefore.create, `where a warm create spends its time on ${f['warm-before']} (host create taking from a warm pool of 1)`);
  if (warmSteps?.create.length) table(warmSteps.create, 'where a warm create spends its time (a claim: one host command, one sandbox event; warm pool of 1, refilled before each)');
} catch (error) {
  // Interrupted: a call cut off by the platform's own stop is no failure of the run.
  if (!stopRequested()) throw error;
  process.exitCode = 130;
} finally {
  await releaseAll();
}

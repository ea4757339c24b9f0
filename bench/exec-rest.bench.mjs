#!/usr/bin/env node
// Exec round trip through REST on a whole platform started for the run: POST
// /v1/sandboxes/{id}/exec of `true`, one at a time, against one running sandbox; prints p50/p90/p99
// client side. BENCH_EXECS execs (default 200) after BENCH_WARMUP (default 20) unmeasured ones,
// so the first connections (gateway → agent HTTP/2, agent → envd) are open before measuring.
//
// `--baseline DIR` also starts the platform built in DIR (another checkout, built) and alternates
// the execs between the two, so both are measured under the same load on a shared machine.
import { startPlatform } from '@wrenn/e2e';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const EXECS = Number(process.env.BENCH_EXECS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const baselineAt = process.argv.indexOf('--baseline');
const baselineDir = baselineAt > 0 ? resolve(process.argv[baselineAt + 1]) : undefined;
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(2)} ms, p90 ${pct(xs, 90).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms (n=${xs.length})`;

const runs = [{ label: 'this tree', start: startPlatform }];
if (baselineDir) {
  const { startPlatform: startBaseline } = await import(pathToFileURL(join(baselineDir, 'test/e2e/dist/platform.js')).href);
  runs.unshift({ label: `baseline (${baselineDir})`, start: startBaseline });
}

try {
  for (const [i, run] of runs.entries()) {
    run.platform = await run.start(`benchexec${i}`);
    const created = await run.platform.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
    run.id = created.body.id;
    run.execs = [];
  }
  for (let i = 0; i < WARMUP + EXECS; i++) {
    for (const run of runs) {
      const t0 = performance.now();
      const res = await run.platform.api('POST', `/v1/sandboxes/${run.id}/exec`, { cmd: 'true' });
      if (i >= WARMUP) run.execs.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`exec failed: ${JSON.stringify(res.body)}`);
    }
  }
  for (const run of runs) console.log(`exec true via REST, ${run.label}: ${fmt(run.execs)}`);
} finally {
  for (const run of runs) {
    if (run.id) await run.platform.api('DELETE', `/v1/sandboxes/${run.id}`).catch(() => undefined);
    await run.platform?.stop();
  }
}

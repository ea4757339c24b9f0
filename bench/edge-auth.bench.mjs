#!/usr/bin/env node
// What the authenticated edge costs per call, through REST on whole platforms started for the
// run: GET /v1/sandboxes/{id} without a key (a 401 before any lookup: the HTTP stack's floor), GET /v1/sandboxes/{id} and GET /v1/sandboxes with an
// API key (key verification + rate limiting + the read). Calls alternate between the platforms
// one by one, so every variant is measured under the same load on a shared machine.
//
//   node bench/edge-auth.bench.mjs [--baseline-dir <built checkout> | --baseline <commit>] [--calls 300] [--warmup 30]
//
// Variants: the baseline tree (when given), this tree with the API key cache off
// (WRENN_API_KEY_CACHE_TTL_MS=0: the auth service asked on every call, rate counts batched), and
// this tree as configured by default. Rate budgets are lifted so no call is refused, but every
// call is still counted. Prints p50/p90 client side, and the keyed call's share above the floor.
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { baselineTree, flags, machine, pct, releaseAll, REPO, startBenchPlatform, stopRequested } from './support/platform-run.mjs';

const f = flags();
const CALLS = Number(f.calls ?? 300);
const WARMUP = Number(f.warmup ?? 30);
const LIFTED = { WRENN_RATE_PER_KEY_PER_MIN: '100000000', WRENN_RATE_PER_ADDRESS_PER_MIN: '100000000' };
const ms2 = (x) => x.toFixed(2);

const variants = [];
const baseline = f['baseline-dir'] ? resolve(f['baseline-dir']) : f.baseline ? baselineTree(f.baseline) : undefined;
if (baseline) variants.push({ label: `baseline (${baseline})`, tree: baseline, env: {} });
variants.push({ label: 'this tree, key cache off', tree: REPO, env: { WRENN_API_KEY_CACHE_TTL_MS: '0' } });
variants.push({ label: 'this tree', tree: REPO, env: {} });

const probes = [
  { name: 'no key (401, floor)', path: (v) => `/v1/sandboxes/${v.id}`, auth: 'none', status: 401 },
  { name: 'GET /v1/sandboxes/{id}', path: (v) => `/v1/sandboxes/${v.id}`, status: 200 },
  { name: 'GET /v1/sandboxes', path: () => '/v1/sandboxes', status: 200 },
];

try {
  for (const [i, v] of variants.entries()) {
    v.platform = await startBenchPlatform(v.tree, `benchedge${i}`, { ...LIFTED, ...v.env });
    const created = await v.platform.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    if (created.status !== 201) throw new Error(`create failed on ${v.label}: ${JSON.stringify(created.body)}`);
    v.id = created.body.id;
    v.times = probes.map(() => []);
  }
  for (let i = 0; i < WARMUP + CALLS && !stopRequested(); i++) {
    for (const [k, probe] of probes.entries()) {
      for (const v of variants) {
        const t0 = performance.now();
        const res = await v.platform.api('GET', probe.path(v), undefined, probe.auth ? { auth: probe.auth } : {});
        const took = performance.now() - t0;
        if (res.status !== probe.status) throw new Error(`${probe.name} on ${v.label}: ${res.status} ${JSON.stringify(res.body)}`);
        if (i >= WARMUP) v.times[k].push(took);
      }
    }
  }
  console.log(`\n${CALLS} calls of each, after ${WARMUP} unmeasured; ${machine()}; client-side ms`);
  for (const v of variants) {
    console.log(`\n${v.label}`);
    for (const [k, probe] of probes.entries()) console.log(`  ${probe.name.padEnd(24)} p50 ${ms2(pct(v.times[k], 50))}  p90 ${ms2(pct(v.times[k], 90))}`);
    console.log(`  auth + rate + read (GET /v1/sandboxes/{id} p50 − floor p50): ${ms2(pct(v.times[1], 50) - pct(v.times[0], 50))} ms`);
  }
  for (const v of variants) await v.platform.api('DELETE', `/v1/sandboxes/${v.id}`);
} finally {
  await releaseAll();
}

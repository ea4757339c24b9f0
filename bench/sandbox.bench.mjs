#!/usr/bin/env node
// Sandbox latency on this machine, through the REST API of a whole platform started for the run:
//   create (API call → running) p50/p99 with the warm sandbox pool (default), with only the
//   network slot pool, and with neither; exec round trip (POST /exec of `true`) p50/p99.
// Bounded: BENCH_CREATES sandboxes per configuration (default 20), BENCH_EXECS execs (default 200).
import { startPlatform } from '@wrenn/e2e';

const CREATES = Number(process.env.BENCH_CREATES ?? 20);
const EXECS = Number(process.env.BENCH_EXECS ?? 200);
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

async function measure(label, env) {
  const p = await startPlatform(`bench${label}`, env);
  const ids = [];
  try {
    const creates = [];
    for (let i = 0; i < CREATES; i++) {
      const t0 = performance.now();
      const res = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 });
      creates.push(performance.now() - t0);
      if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
      ids.push(res.body.id);
      // Keep a few for the exec measurements; the rest go at once (host capacity is finite).
      if (ids.length > 3) await p.api('DELETE', `/v1/sandboxes/${ids.pop()}`);
      // Let the pools refill between creates, as between real users' requests.
      await new Promise((r) => setTimeout(r, 400));
    }
    const execs = [];
    for (let i = 0; i < EXECS; i++) {
      const t0 = performance.now();
      const res = await p.api('POST', `/v1/sandboxes/${ids[i % ids.length]}/exec`, { cmd: 'true' });
      execs.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`exec failed: ${JSON.stringify(res.body)}`);
    }
    return { creates, execs };
  } finally {
    for (const id of ids) await p.api('DELETE', `/v1/sandboxes/${id}`).catch(() => undefined);
    await p.stop();
  }
}

const warm = await measure('warm', {});
const slots = await measure('slots', { WRENN_WARM_POOL_SIZE: '0' });
const cold = await measure('cold', { WRENN_WARM_POOL_SIZE: '0', WRENN_NET_POOL_SIZE: '0' });
console.log(`create, warm sandbox pool:        ${fmt(warm.creates)}`);
console.log(`create, network slot pool only:   ${fmt(slots.creates)}`);
console.log(`create, no pools:                 ${fmt(cold.creates)}`);
console.log(`create p50 ratios: no pools / warm ${(pct(cold.creates, 50) / pct(warm.creates, 50)).toFixed(2)}x, slot pool only / warm ${(pct(slots.creates, 50) / pct(warm.creates, 50)).toFixed(2)}x, no pools / slot pool ${(pct(cold.creates, 50) / pct(slots.creates, 50)).toFixed(2)}x`);
console.log(`exec round trip (true):           ${fmt(warm.execs)}`);

#!/usr/bin/env node
// Command latency of the E2B SDK drop-in against Wrenn's own API, one sandbox, same platform:
//   E2B SDK `sandbox.commands.run('true')` (Connect RPC stream: gateway envd proxy → host
//   agent's envd proxy → envd) vs `POST /v1/sandboxes/{id}/exec` of `true` (REST → data plane
//   → envd). Prints p50/p99 of each and the ratio. Bounded: BENCH_E2B_RUNS of each (default
//   200), after BENCH_E2B_WARMUP (default 20) unmeasured runs of each.
// Then the lifecycle through the SDK vs REST, interleaved, BENCH_E2B_CYCLES (default 10) each:
//   `sandbox.pause()` vs `POST …/pause`, `Sandbox.connect()` of the paused sandbox (a resume) vs
//   `POST …/resume`, and `sandbox.setTimeout()` vs `POST …/timeout`.
import { startPlatform } from '@wrenn/e2e';
import { Sandbox } from 'e2b';

const RUNS = Number(process.env.BENCH_E2B_RUNS ?? 200);
const WARMUP = Number(process.env.BENCH_E2B_WARMUP ?? 20);
const CYCLES = Number(process.env.BENCH_E2B_CYCLES ?? 10);
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

const p = await startPlatform('benche2b');
let sbx;
try {
  process.env.E2B_API_URL = `${p.url}/e2b`;
  process.env.E2B_SANDBOX_URL = p.url;
  process.env.E2B_API_KEY = p.owner.apiKey;
  sbx = await Sandbox.create();
  const viaSdk = async () => {
    const t0 = performance.now();
    await sbx.commands.run('true');
    return performance.now() - t0;
  };
  const viaRest = async () => {
    const t0 = performance.now();
    const res = await p.api('POST', `/v1/sandboxes/${sbx.sandboxId}/exec`, { cmd: 'true' });
    if (res.status !== 200) throw new Error(`exec failed: ${JSON.stringify(res.body)}`);
    return performance.now() - t0;
  };
  for (let i = 0; i < WARMUP; i++) {
    await viaSdk();
    await viaRest();
  }
  // Interleaved, so both see the same machine load.
  const sdk = [];
  const rest = [];
  for (let i = 0; i < RUNS; i++) {
    sdk.push(await viaSdk());
    rest.push(await viaRest());
  }
  console.log(`E2B SDK commands.run('true'):    ${fmt(sdk)}`);
  console.log(`Wrenn POST /exec of true:        ${fmt(rest)}`);
  console.log(`ratio E2B SDK / Wrenn REST:      p50 ${(pct(sdk, 50) / pct(rest, 50)).toFixed(2)}x, p99 ${(pct(sdk, 99) / pct(rest, 99)).toFixed(2)}x`);

  const timed = async (fn) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const rest200 = async (path, body) => {
    const res = await p.api('POST', `/v1/sandboxes/${sbx.sandboxId}${path}`, body);
    if (res.status !== 200) throw new Error(`${path} failed: ${JSON.stringify(res.body)}`);
  };
  const lifecycle = { sdkPause: [], restPause: [], sdkResume: [], restResume: [], sdkTimeout: [], restTimeout: [] };
  for (let i = 0; i < CYCLES; i++) {
    lifecycle.sdkTimeout.push(await timed(() => sbx.setTimeout(600_000 + i * 2000)));
    lifecycle.restTimeout.push(await timed(() => rest200('/timeout', { timeout_sec: 601 + i * 2 })));
    lifecycle.sdkPause.push(await timed(async () => {
      if (!(await sbx.pause())) throw new Error('the SDK did not pause');
    }));
    lifecycle.sdkResume.push(await timed(() => Sandbox.connect(sbx.sandboxId)));
    lifecycle.restPause.push(await timed(() => rest200('/pause')));
    lifecycle.restResume.push(await timed(() => rest200('/resume')));
  }
  console.log(`E2B SDK setTimeout:              ${fmt(lifecycle.sdkTimeout)}`);
  console.log(`Wrenn POST /timeout:             ${fmt(lifecycle.restTimeout)}`);
  console.log(`E2B SDK pause():                 ${fmt(lifecycle.sdkPause)}`);
  console.log(`Wrenn POST /pause:               ${fmt(lifecycle.restPause)}`);
  console.log(`E2B SDK connect() of a paused:   ${fmt(lifecycle.sdkResume)}`);
  console.log(`Wrenn POST /resume:              ${fmt(lifecycle.restResume)}`);
} finally {
  await sbx?.kill().catch(() => undefined);
  await p.stop();
}

#!/usr/bin/env node
// The CLI and the SDK on this machine, against a whole platform started for the run:
//   the CLI's cold start (`wrenn --help`) and a full `wrenn sandbox ls --json` (process start,
//   one API call, output), the SDK's exec of `true` against the same call made with bare fetch
//   (interleaved), and a WebSocket exec of `true` (connect, start, exit) through the SDK.
// Bounded: BENCH_CLI_RUNS CLI runs of each kind (default 20), BENCH_CALLS calls of each kind (default 200).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO, startPlatform } from '@wrenn/e2e';
import { WrennClient } from '@wrenn/sdk';

const CLI_RUNS = Number(process.env.BENCH_CLI_RUNS ?? 20);
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const CLI = join(REPO, 'tools/cli/dist/main.js');
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

const p = await startPlatform('benchcli');
let id;
try {
  const sdk = new WrennClient({ baseUrl: p.url, apiKey: p.owner.apiKey });
  id = (await sdk.createSandbox({ memory_mb: 128 })).id;
  const env = { ...p.childEnv, WRENN_API_URL: p.url, WRENN_API_KEY: p.owner.apiKey };
  const cli = (args) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`wrenn ${args.join(' ')}: ${r.stderr}`);
    return performance.now() - t0;
  };
  const help = Array.from({ length: CLI_RUNS }, () => cli(['--help']));
  const ls = Array.from({ length: CLI_RUNS }, () => cli(['sandbox', 'ls', '--json']));

  const viaSdk = [];
  const viaFetch = [];
  for (let i = 0; i < CALLS; i++) {
    let t0 = performance.now();
    await sdk.exec(id, { cmd: 'true' });
    viaSdk.push(performance.now() - t0);
    t0 = performance.now();
    const res = await fetch(`${p.url}/v1/sandboxes/${id}/exec`, { method: 'POST', headers: { 'x-api-key': p.owner.apiKey, 'content-type': 'application/json' }, body: '{"cmd":"true"}' });
    await res.json();
    viaFetch.push(performance.now() - t0);
  }
  const streamed = [];
  for (let i = 0; i < Math.min(CALLS, 100); i++) {
    const t0 = performance.now();
    await sdk.execStream(id, { cmd: 'true' }).done;
    streamed.push(performance.now() - t0);
  }
  console.log(`wrenn --help (cold start):             ${fmt(help)}`);
  console.log(`wrenn sandbox ls --json (whole run):   ${fmt(ls)}`);
  console.log(`SDK exec of true:                      ${fmt(viaSdk)}`);
  console.log(`bare fetch exec of true (interleaved): ${fmt(viaFetch)}`);
  console.log(`SDK WebSocket exec of true:            ${fmt(streamed)}`);
} finally {
  if (id) await p.api('DELETE', `/v1/sandboxes/${id}`).catch(() => undefined);
  await p.stop();
}

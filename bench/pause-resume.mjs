#!/usr/bin/env node
// Pause and resume latency through the REST API of a whole platform started for the run
// (namespace runtime: pause = freeze, kill, keep the upper dir, release every resource; resume =
// a new sandbox on the same files). p50/p99 of POST /pause and POST /resume, each call until the
// read model shows the new state. Bounded: BENCH_CYCLES pause+resume cycles (default 30) over
// BENCH_SANDBOXES sandboxes (default 3), each holding a few files.
import { startPlatform } from '@wrenn/e2e';

const CYCLES = Number(process.env.BENCH_CYCLES ?? 30);
const SANDBOXES = Number(process.env.BENCH_SANDBOXES ?? 3);
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

const p = await startPlatform('benchpause');
const ids = [];
const pauses = [];
const resumes = [];
const sizes = [];
try {
  for (let i = 0; i < SANDBOXES; i++) {
    const res = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
    ids.push(res.body.id);
    // ~1 MiB of the user's own files, so the snapshot is not empty.
    await p.api('POST', `/v1/sandboxes/${res.body.id}/exec`, { cmd: 'sh', args: ['-c', 'mkdir -p /root/w && head -c 1048576 /dev/urandom > /root/w/blob && echo hi > /root/w/note'] });
  }
  for (let i = 0; i < CYCLES; i++) {
    const id = ids[i % ids.length];
    let t0 = performance.now();
    const paused = await p.api('POST', `/v1/sandboxes/${id}/pause`);
    pauses.push(performance.now() - t0);
    if (paused.status !== 200) throw new Error(`pause failed: ${JSON.stringify(paused.body)}`);
    sizes.push(paused.body.snapshot_size_bytes);
    t0 = performance.now();
    const resumed = await p.api('POST', `/v1/sandboxes/${id}/resume`);
    resumes.push(performance.now() - t0);
    if (resumed.status !== 200) throw new Error(`resume failed: ${JSON.stringify(resumed.body)}`);
  }
  const check = await p.api('POST', `/v1/sandboxes/${ids[0]}/exec`, { cmd: 'cat', args: ['/root/w/note'] });
  if (check.body.stdout !== 'hi\n') throw new Error('files did not survive the cycles');
} finally {
  for (const id of ids) await p.api('DELETE', `/v1/sandboxes/${id}`).catch(() => undefined);
  await p.stop();
}
console.log(`pause (API call → paused):   ${fmt(pauses)}   target ≤ 150 ms`);
console.log(`resume (API call → running): ${fmt(resumes)}   target ≤ 100 ms`);
console.log(`snapshot size: ${(pct(sizes, 50) / 1024 / 1024).toFixed(2)} MiB (p50)`);

#!/usr/bin/env node
// A sandbox's network slot (netns, veth pair, firewall elements) taken from the pre-built pool versus
// built on demand. Needs root. Bounded: BENCH_SLOTS acquires of each kind (default 20), on a
// manager of its own (agent key and address range apart from any running agent); cleans up.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { NetworkManager } = require('../services/host-agent/dist/networking/network.manager.js');

const SLOTS = Number(process.env.BENCH_SLOTS ?? 20);
const KEY = `b${randomBytes(2).toString('hex')}`;
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms (n=${xs.length})`;

async function waitPooled(manager, n) {
  const deadline = Date.now() + 60_000;
  while (manager.describe().pooled < n) {
    if (Date.now() > deadline) throw new Error(`the pool did not reach ${n} slots`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function timedAcquire(manager) {
  const t0 = performance.now();
  const net = await manager.acquire();
  const ms = performance.now() - t0;
  await manager.release(net.index);
  return ms;
}

const cold = new NetworkManager({ agentKey: KEY, cidr: '10.239.0.0/16', poolSize: 0 });
const pooled = new NetworkManager({ agentKey: KEY, cidr: '10.239.0.0/16', poolSize: 1 });
try {
  await cold.start();
  const built = [];
  for (let i = 0; i < SLOTS; i++) built.push(await timedAcquire(cold));
  await pooled.start();
  const fromPool = [];
  for (let i = 0; i < SLOTS; i++) {
    await waitPooled(pooled, 1);
    fromPool.push(await timedAcquire(pooled));
  }
  console.log(`slot built on demand: ${fmt(built)}`);
  console.log(`slot from the pool:   ${fmt(fromPool)}`);
} finally {
  await pooled.stop();
  await cold.stop({ removeHostRules: true });
}

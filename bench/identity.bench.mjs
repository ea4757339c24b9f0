#!/usr/bin/env node
// Identity costs on this machine, through the REST API of a whole platform started for the run:
//   signup and login (scrypt N=2^15, r=8, p=1 per password), an API-key-authenticated read
//   (GET /v1/sandboxes: key verified by the auth service over NATS once, then cached in the gateway),
//   a refused unknown key, and a bearer-token read (GET /v1/api-keys, JWT checked in the gateway).
// Bounded: BENCH_LOGINS signups + logins (default 20), BENCH_READS reads of each kind (default 500).
import { startPlatform } from '@wrenn/e2e';

const LOGINS = Number(process.env.BENCH_LOGINS ?? 20);
const READS = Number(process.env.BENCH_READS ?? 500);
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`;

async function timed(n, call, expect) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await call(i);
    out.push(performance.now() - t0);
    if (res.status !== expect) throw new Error(`expected ${expect}, got ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return out;
}

const p = await startPlatform('benchid', { WRENN_LOGIN_MAX_PER_ADDRESS: '100000', WRENN_RATE_PER_KEY_PER_MIN: '1000000', WRENN_RATE_PER_ADDRESS_PER_MIN: '1000000' });
try {
  const run = Date.now().toString(36);
  const signups = await timed(LOGINS, (i) => p.api('POST', '/v1/auth/signup', { email: `bench${i}-${run}@example.test`, password: 'benchmark password' }, { auth: 'none' }), 202);
  const logins = await timed(LOGINS, (i) => p.api('POST', '/v1/auth/login', { email: `bench${i}-${run}@example.test`, password: 'benchmark password' }, { auth: 'none' }), 200);
  const keyed = await timed(READS, () => p.api('GET', '/v1/sandboxes?limit=1'), 200);
  const refused = await timed(READS, () => p.api('GET', '/v1/sandboxes?limit=1', undefined, { auth: { apiKey: 'wrn_' + 'x'.repeat(43) } }), 401);
  const bearer = await timed(READS, () => p.api('GET', '/v1/me', undefined, { auth: 'bearer' }), 200);
  console.log(`signup (user + team + events):     ${fmt(signups)}`);
  console.log(`login (scrypt + rate limit + JWT): ${fmt(logins)}`);
  console.log(`read with an API key:              ${fmt(keyed)}`);
  console.log(`unknown API key refused (401):     ${fmt(refused)}`);
  console.log(`GET /v1/me with a bearer token:    ${fmt(bearer)}`);
} finally {
  await p.stop();
}

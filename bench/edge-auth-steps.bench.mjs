#!/usr/bin/env node
// The steps of the authenticated edge, timed in process on the real gateway and auth service
// (real NATS and PostgreSQL, the gateway test harness): what one call spends verifying its API
// key and counting its rate, before and after the cache and the batched counters.
//
//   node bench/edge-auth-steps.bench.mjs [--calls 2000]
//
//   verify, asked            AuthClient.verifyApiKey: a NATS request to the auth service and its
//                            PostgreSQL lookup (every call, before; a cache miss, now)
//   verify, cached           ApiKeyAuthenticator.authenticate on a cached key (HMAC + LRU get)
//   rate, one upsert each    RateWindowRepository.count of the key's and the address's buckets
//                            (two upserts, what every call paid before)
//   rate, batched            RequestRateLimiter.hit (in memory; the flush runs on its timer)
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { flags, machine, pct, REPO } from './support/platform-run.mjs';

const require = createRequire(join(REPO, 'package.json'));
const { startGateway } = require('@wrenn/gateway-test-support');
const { ApiKeyAuthenticator } = require(join(REPO, 'services/gateway/dist/auth/api-key.authenticator.js'));
const { RequestRateLimiter } = require(join(REPO, 'services/gateway/dist/auth/request-rate.limiter.js'));
const { AuthClient } = require(join(REPO, 'services/gateway/dist/services/auth.client.js'));
const { RateWindowRepository, createDataSource } = require('@wrenn/db');

const f = flags();
const CALLS = Number(f.calls ?? 2000);
const us = (x) => `${(x * 1000).toFixed(0)} µs`;

const h = await startGateway('benchedgesteps', { WRENN_RATE_PER_KEY_PER_MIN: '100000000', WRENN_RATE_PER_ADDRESS_PER_MIN: '100000000' });
const ds = createDataSource(h.env.databaseUrl);
await ds.initialize();
try {
  const app = h.gateway.app;
  const authenticator = app.get(ApiKeyAuthenticator);
  const limiter = app.get(RequestRateLimiter);
  const auth = app.get(AuthClient);
  const oldWindows = new RateWindowRepository(ds, 'request_rate_windows');
  const headers = h.authHeaders();
  const caller = await authenticator.authenticate(headers);

  const steps = {
    'verify, asked': () => auth.verifyApiKey(headers['x-api-key']),
    'verify, cached': () => authenticator.authenticate(headers),
    'rate, one upsert each': () => oldWindows.count([{ bucket: 'bench:key', windowSec: 60, max: 1e9 }, { bucket: 'bench:addr', windowSec: 60, max: 1e9 }]),
    'rate, batched': () => limiter.hit(caller, '127.0.0.1'),
  };
  const results = [];
  for (const [name, step] of Object.entries(steps)) {
    const n = name.includes('asked') || name.includes('upsert') ? Math.min(CALLS, 500) : CALLS;
    for (let i = 0; i < 50; i++) await step();
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await step();
      times.push(performance.now() - t0);
    }
    results.push({ name, n, p50: pct(times, 50), p90: pct(times, 90), p99: pct(times, 99) });
  }
  console.log(`\nedge steps in process; ${machine()}`);
  for (const r of results) console.log(`  ${r.name.padEnd(24)} p50 ${us(r.p50).padStart(9)}  p90 ${us(r.p90).padStart(9)}  p99 ${us(r.p99).padStart(9)}  (n=${r.n})`);
  await ds.query(`DELETE FROM request_rate_windows WHERE bucket LIKE 'bench:%'`);
} finally {
  await ds.destroy();
  await h.close();
}

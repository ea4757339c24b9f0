#!/usr/bin/env node
// Where the gateway spends an exec of `true`, step by step. A whole platform runs for the run
// (its own process: host agent, services, a gateway); a second gateway runs in this process on
// the same NATS namespace and database, so each of its steps can be timed alone on the real
// providers, next to the whole REST call through that same gateway.
//
//   node bench/exec-gateway-steps.bench.mjs [--calls 500] [--only 'REST exec']
//
// `--only PREFIX` times just the steps whose names start with it (e.g. under `node --cpu-prof`).
//
//   REST exec, whole          POST /v1/sandboxes/{id}/exec {"cmd":"true"} to the in-process gateway
//   REST GET /health          the floor: HTTP, Express, Nest routing of a public route, JSON answer
//   auth: key (cached)        ApiKeyAuthenticator.authenticate (HMAC + LRU get)
//   auth: scope               assertScope of the key's scope on the route
//   auth: rate                RequestRateLimiter.hit (in memory)
//   validation: ExecDto       the global ValidationPipe on the body (class-transformer + class-validator)
//   service: requireRunning   the sandbox's host from memory, team check, activity touch
//   service: data-plane client DataPlaneClients.forSandbox (the HTTP/2 transport is kept per host)
//   data plane: exec          the Connect call to the host agent (host token reused), answer decoded
//   service: exec, whole      SandboxDataService.exec: all of the service steps above and the answer view
//   rest (routing, guards, pipes, middleware, answer) = REST exec − service − auth − validation − /health
import { startPlatform } from '@wrenn/e2e';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { flags, machine, pct, REPO } from './support/platform-run.mjs';

const require = createRequire(join(REPO, 'package.json'));
const f = flags();
const CALLS = Number(f.calls ?? 500);
const WARMUP = 50;
const us = (x) => `${(x * 1000).toFixed(0)} µs`;

const platform = await startPlatform('benchexecsteps');
let gateway;
let id;
try {
  const created = await platform.api('POST', '/v1/sandboxes', { memory_mb: 128 });
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  id = created.body.id;

  // Service modules resolve their subjects when they load: after the namespace is set.
  Object.assign(process.env, platform.childEnv, { LOG_LEVEL: 'warn' });
  const { bootstrapGateway } = await import('@wrenn/gateway');
  gateway = await bootstrapGateway({ port: 0, host: '127.0.0.1' });
  const dist = (p) => require(join(REPO, 'services/gateway/dist', p));
  const { ApiKeyAuthenticator } = dist('auth/api-key.authenticator.js');
  const { RequestRateLimiter } = dist('auth/request-rate.limiter.js');
  const { assertScope } = dist('auth/key-scope.js');
  const { validationPipe } = dist('errors/validation.js');
  const { ExecDto } = dist('dtos/sandbox.dto.js');
  const { SandboxesService } = dist('services/sandboxes.service.js');
  const { SandboxDataService } = dist('services/sandbox-data.service.js');
  const { DataPlaneClients } = dist('data-plane/data-plane.clients.js');
  const app = gateway.app;
  const authenticator = app.get(ApiKeyAuthenticator);
  const limiter = app.get(RequestRateLimiter);
  const sandboxes = app.get(SandboxesService);
  const data = app.get(SandboxDataService);
  const dataPlanes = app.get(DataPlaneClients);
  const pipe = validationPipe();

  const headers = { ...platform.authHeaders(), 'content-type': 'application/json' };
  const caller = await authenticator.authenticate(headers);
  const path = `/v1/sandboxes/${id}/exec`;
  const body = JSON.stringify({ cmd: 'true' });
  const dto = await pipe.transform({ cmd: 'true' }, { type: 'body', metatype: ExecDto });
  const { hostId } = await sandboxes.requireRunning(caller, id);
  const client = await dataPlanes.forSandbox(hostId, id);
  const post = async () => {
    const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers, body });
    if (res.status !== 200) throw new Error(`exec answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };

  const steps = {
    'REST exec, whole': post,
    'REST GET /health': async () => void (await (await fetch(`${gateway.url}/health`)).arrayBuffer()),
    'auth: key (cached)': () => authenticator.authenticate(headers),
    'auth: scope': () => assertScope(caller.scope, 'POST', path),
    'auth: rate': () => limiter.hit(caller, '127.0.0.1'),
    'validation: ExecDto': () => pipe.transform({ cmd: 'true' }, { type: 'body', metatype: ExecDto }),
    'service: requireRunning': () => sandboxes.requireRunning(caller, id),
    'service: data-plane client': () => dataPlanes.forSandbox(hostId, id),
    'data plane: exec': () => client.exec({ sandboxId: id, timeoutSec: dto.timeout_sec, process: { cmd: 'true', args: [], env: {}, cwd: '', user: '' } }, { timeoutMs: 70_000 }),
    'service: exec, whole': () => data.exec(caller, id, dto),
  };
  if (f.only) for (const name of Object.keys(steps)) if (!name.startsWith(f.only)) delete steps[name];
  // Round robin, one call of each step per round, so load on the shared machine hits them alike.
  const times = Object.fromEntries(Object.keys(steps).map((k) => [k, []]));
  for (let i = 0; i < WARMUP + CALLS; i++) {
    for (const [name, step] of Object.entries(steps)) {
      const t0 = performance.now();
      await step();
      if (i >= WARMUP) times[name].push(performance.now() - t0);
    }
  }
  // CPU of this process per call (user + system), steadier than latency on a loaded machine: the
  // REST call costs the gateway's share plus the HTTP client's; the data-plane call alone is the
  // Connect client's share, the part of the REST call's CPU spent outside the gateway's own edge.
  const cpuPer = async (step) => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) await step();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / CALLS;
  };
  const cpu = f.only ? {} : { rest: await cpuPer(post), health: await cpuPer(steps['REST GET /health']), dataPlane: await cpuPer(steps['data plane: exec']) };
  const p50 = (name) => (times[name] ? pct(times[name], 50) : NaN);
  console.log(`\ngateway steps of an exec of \`true\`, in process; ${machine()}, n=${CALLS}`);
  for (const [name, xs] of Object.entries(times)) {
    console.log(`  ${name.padEnd(28)} p50 ${us(pct(xs, 50)).padStart(9)}  p90 ${us(pct(xs, 90)).padStart(9)}  p99 ${us(pct(xs, 99)).padStart(9)}`);
  }
  if (f.only) process.exitCode = 0;
  else {
  const edge = p50('auth: key (cached)') + p50('auth: scope') + p50('auth: rate') + p50('validation: ExecDto');
  const rest = p50('REST exec, whole') - p50('service: exec, whole') - edge - p50('REST GET /health');
  const service = p50('service: exec, whole') - p50('data plane: exec');
  console.log(`  ${'= service beyond the data plane'.padEnd(28)} p50 ${us(service).padStart(9)}`);
  console.log(`  ${'= routing, guard, pipes, answer'.padEnd(28)} p50 ${us(rest).padStart(9)}  (whole − service − auth − validation − /health)`);
    console.log(`\nCPU of this process per call: REST exec ${us(cpu.rest)}, REST GET /health ${us(cpu.health)}, data-plane exec alone ${us(cpu.dataPlane)}`);
    console.log(`  → the gateway's exec beyond /health and the data-plane call: ${us(cpu.rest - cpu.health - cpu.dataPlane)} CPU`);
  }
} finally {
  await gateway?.close().catch(() => undefined);
  if (id) await platform.api('DELETE', `/v1/sandboxes/${id}`).catch(() => undefined);
  await platform.stop();
}

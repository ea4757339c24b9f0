#!/usr/bin/env node
// Where an exec of `true` spends its time inside the host agent, layer by layer, against one
// running namespace sandbox (its envd served by the agent, its work done by the sandbox's init):
//
//   init agent      InitSystem.spawn alone: the request on the init's socket, the init's fork,
//                   the child's setup (cgroups, user, pipes) and exec, the exit, the pipes closing
//   envd core       the envd instance's ProcessManager (no RPC): the above plus the end's bookkeeping
//   envd handler    envd's process.Process/Start handler called directly (what the agent's exec
//                   calls for the sandboxes whose envd it serves): the above plus resolving the user
//   envd Connect    the same through an in-memory Connect transport (the agent's other envd calls)
//   envd socket     the same service over HTTP/1.1 on the agent's own envd socket (the hop the
//                   agent used to make; the envd proxy's and a guest's envd path still look like it)
//   orchestrator    SandboxOrchestrator.exec (validation, lookup, then one of the two above)
//   round trip      a DataPlane.Exec without a host token, refused before any work: HTTP/2 and
//                   Connect alone, both ends
//   agent side      the data plane's handler from a request's arrival to the end of its answer
//                   (host token check, Connect, the orchestrator, the init): the agent's share
//   data plane      a DataPlane.Exec over h2c on loopback with a host token minted per call, as the
//                   gateway sends it (client side: includes minting, about the gateway's share)
//   1 MiB           the same for a command that prints 1 MiB (the answer's encoding on the agent)
//
// plus the host token alone (mint, verify). The layers take turns in each round so they see the
// same load. Prints p10/p50/p99 per layer side by side.
//
//   node bench/agent-exec.bench.mjs [--baseline <another built checkout>]
// With --baseline both trees run in this one process, each its own sandbox and its own code, and
// their rounds alternate: a before/after under the same load, printed side by side.
// BENCH_ONLY=<regex> runs only the layers whose names match.
// Needs root and the base image. BENCH_EXECS rounds (default 300) after BENCH_WARMUP (default 30).
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { once } from 'node:events';

const here = dirname(fileURLToPath(import.meta.url));
const EXECS = Number(process.env.BENCH_EXECS ?? 300);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 30);
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** One tree's layers against a sandbox of its own, with that tree's code; `cleanups` undoes it. */
async function setUp(repo, slot, cleanups) {
  const require = createRequire(join(repo, 'services/host-agent/package.json'));
  const dist = join(repo, 'services/host-agent/dist');
  const envdDist = join(repo, 'services/envd/dist');

  const { NamespaceRuntime } = require(join(dist, 'sandbox/namespace/namespace-sandboxes.js'));
  const { NetworkManager, unusedSlotCidr } = require(join(dist, 'networking/index.js'));
  const { CgroupManager } = require(join(dist, 'cgroups/index.js'));
  const { SandboxOrchestrator } = require(join(dist, 'sandbox/sandbox-orchestrator.js'));
  const { EnvdClient } = require(join(dist, 'envd-client/envd.client.js'));
  const { dataPlaneHandler, dataPlaneService } = require(join(dist, 'data-plane/data-plane.server.js'));
  const { initSocketPath } = require(join(dist, 'runtime/namespace/namespace.driver.js'));
  const { InitSystem } = require(join(envdDist, 'system/init/init-system.js'));
  const { ProcessManager } = require(join(envdDist, 'process/process-manager.js'));
  const { processService } = require(join(envdDist, 'process/process.service.js'));
  const { Users } = require(join(envdDist, 'users.js'));
  const { newEnvdState } = require(join(envdDist, 'server.js'));
  const { createLogger } = require('@wrenn/logger');
  const { HostTokenSigner, HostTokenVerifier, generateHostTokenKeys, HOST_TOKEN_HEADER } = require('@wrenn/service-kit');
  const { processPb, dataPlanePb } = require('@wrenn/proto');
  const { createClient, createHandlerContext, createRouterTransport } = require('@connectrpc/connect');
  const { create } = require('@bufbuild/protobuf');
  const { connectNodeAdapter, createConnectTransport, Http2SessionManager } = require('@connectrpc/connect-node');
  const { createServer } = require('node:http2');
  const { ulid } = require('ulid');

  const KEY = `b${Math.random().toString(36).slice(2, 6)}`;
  const stateDir = await mkdtemp('/tmp/wrenn-bench-agent-exec-');
  const network = new NetworkManager({ agentKey: KEY, cidr: unusedSlotCidr(231 + slot), poolSize: 0 });
  const cgroups = new CgroupManager({ group: `wrenn-${KEY}` });
  const runtime = new NamespaceRuntime({ stateDir, imageDir: process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images', network, cgroups, envdHost: {} });
  const log = createLogger('agent-exec-bench');
  const orchestrator = new SandboxOrchestrator(runtime, log);
  const sandboxId = `sb_${ulid().toLowerCase()}`;
  cleanups.push(async () => {
    await orchestrator.destroy({ commandId: ulid(), sandboxId }).catch(() => undefined);
    await orchestrator.shutdown().catch(() => undefined);
    await network.stop({ removeHostRules: true }).catch(() => undefined);
    await cgroups.removeGroup().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  });
  await orchestrator.start();
  await orchestrator.create({ commandId: ulid(), spec: { sandboxId, teamId: 'bench', template: 'base', vcpus: 1, memoryMb: 256 } });
  const socket = initSocketPath(join(stateDir, 'sandboxes', sandboxId));
  const ROOT = { name: 'root', uid: 0, gid: 0, groups: [], home: '/root', shell: '/bin/sh' };
  const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

  // The init agent alone, on a connection of its own.
  const init = new InitSystem(socket);
  cleanups.push(() => init.close());
  const initSpawn = async (marks) => {
    const t0 = performance.now();
    const proc = await init.spawn({ argv: ['true'], env: { PATH }, cwd: '/root', user: ROOT, stdin: false });
    marks.answered = performance.now() - t0;
    const closed = [proc.stdout, proc.stderr].map((s) => (s.readableEnded || s.destroyed ? undefined : once(s, 'close')));
    proc.stdout.resume();
    proc.stderr.resume();
    const end = await proc.exited;
    marks.exited = performance.now() - t0;
    await Promise.all(closed);
    if (end.code !== 0) throw new Error(`true ended ${JSON.stringify(end)}`);
  };

  // envd's core and its Connect service, in process, on a second connection.
  const system = new InitSystem(socket);
  cleanups.push(() => system.close());
  const state = newEnvdState();
  const users = new Users(system, state);
  const processes = new ProcessManager(system);
  const user = await users.lookup('root');
  const envdCore = async () => {
    const proc = await processes.start({ cmd: 'true', args: [], envs: {}, stdin: false, user });
    await new Promise((resolve) => proc.subscribe((n) => n.kind === 'end' && resolve()));
  };
  const inMemory = createClient(processPb.Process, createRouterTransport((router) => router.service(processPb.Process, processService(processes, users))));
  const drain = async (client, headers) => {
    let exit;
    for await (const res of client.start({ process: { cmd: 'true', args: [], envs: {} }, stdin: false }, { headers })) if (res.event?.event?.case === 'end') exit = res.event.event.value;
    if (!exit?.exited || exit.exitCode !== 0) throw new Error(`true ended ${JSON.stringify(exit)}`);
  };
  const basicRoot = { authorization: `Basic ${Buffer.from('root:').toString('base64')}` };
  const envdConnect = () => drain(inMemory, basicRoot);
  // The Start handler itself, no Connect between (what the agent calls for its own exec).
  const startImpl = processService(processes, users);
  const envdHandler = async () => {
    const ctx = createHandlerContext({ service: processPb.Process, method: processPb.Process.method.start, protocolName: 'in-process', requestMethod: 'POST', url: '/', requestHeader: basicRoot });
    let exit;
    for await (const res of startImpl.start(create(processPb.StartRequestSchema, { process: { cmd: 'true', args: [], envs: {} }, stdin: false }), ctx)) if (res.event?.event?.case === 'end') exit = res.event.event.value;
    if (!exit?.exited || exit.exitCode !== 0) throw new Error(`true ended ${JSON.stringify(exit)}`);
  };

  // The agent's envd socket (HTTP/1.1, kept-alive connections).
  const endpoint = await runtime.endpoint(sandboxId);
  const overSocket = new EnvdClient(endpoint.envdUrl, endpoint.accessToken, undefined, { agent: endpoint.envdHost.agent(), sandboxId });
  const envdSocket = async () => {
    const r = await overSocket.exec({ cmd: 'true', args: [], user: 'root' }, 10);
    if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
  };

  const viaOrchestrator = async () => {
    const r = await orchestrator.exec({ sandboxId, cmd: 'true', args: [], user: 'root', timeoutSec: 10 });
    if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
  };

  // The data plane, as the gateway reaches it: one HTTP/2 session, a token minted per call.
  const hostId = 'bench-host';
  const { privateKey, publicKey } = generateHostTokenKeys();
  const signer = new HostTokenSigner(privateKey);
  const verifier = new HostTokenVerifier(hostId, async () => publicKey);
  // The agent's data plane as startDataPlane serves it (its service on Connect's Node adapter over
  // h2c), timed from the request's arrival to the end of its answer: the agent's own share.
  const handler = dataPlaneHandler
    ? dataPlaneHandler(orchestrator, verifier)
    : connectNodeAdapter({ routes: (router) => router.service(dataPlanePb.DataPlane, dataPlaneService(orchestrator, verifier)) });
  const agentSide = [];
  const server = createServer((req, res) => {
    const t0 = performance.now();
    res.once('finish', () => agentSide.push(performance.now() - t0));
    handler(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dataPlane = { url: `http://127.0.0.1:${server.address().port}` };
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const sessions = new Http2SessionManager(dataPlane.url, { pingIntervalMs: 15_000, idleConnectionTimeoutMs: 60_000 });
  cleanups.push(() => sessions.abort());
  const withToken = (next) => async (req) => {
    req.header.set(HOST_TOKEN_HEADER, await signer.mint(hostId, sandboxId));
    return next(req);
  };
  const plane = createClient(dataPlanePb.DataPlane, createConnectTransport({ baseUrl: dataPlane.url, httpVersion: '2', sessionManager: sessions, interceptors: [withToken] }));
  const viaDataPlane = async (marks) => {
    agentSide.length = 0;
    const r = await plane.exec({ sandboxId, process: { cmd: 'true', args: [], env: {}, user: 'root' }, timeoutSec: 10 });
    if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
    marks.agentSide = agentSide[0];
  };

  // A command with a large answer: 1 MiB of base64 text on stdout, through the whole data plane.
  const bigOutput = async () => {
    const r = await plane.exec({ sandboxId, process: { cmd: '/bin/sh', args: ['-c', 'head -c 786432 /dev/urandom | base64 -w0'], env: {}, user: 'root' }, timeoutSec: 10 });
    if (r.exitCode !== 0 || r.stdout.length !== 1 << 20) throw new Error(`${r.exitCode}: ${r.stdout.length} bytes`);
  };

  // The bare HTTP/2 + Connect round trip: a call without a token is refused before any work.
  const bare = createClient(dataPlanePb.DataPlane, createConnectTransport({ baseUrl: dataPlane.url, httpVersion: '2', sessionManager: sessions }));
  const refused = async () => {
    const outcome = await bare.exec({ sandboxId, process: { cmd: 'true', args: [], env: {}, user: 'root' }, timeoutSec: 10 }).then(
      () => 'answered',
      (error) => error.code,
    );
    if (outcome !== 16) throw new Error(`a call without a host token was not refused as unauthenticated: ${outcome}`);
  };

  const token = await signer.mint(hostId, sandboxId);
  const mint = () => signer.mint(hostId, sandboxId);
  const verify = () => verifier.verify(token, sandboxId);

  const layers = [
    ['host token: mint (gateway side)', mint],
    ['host token: verify (agent side)', verify],
    ['init agent: spawn answered', undefined],
    ['init agent: exit reported', undefined],
    ['init agent: exit + pipes closed', initSpawn],
    ['envd core (ProcessManager)', envdCore],
    ['envd Start handler, direct', envdHandler],
    ['envd Connect, in memory', envdConnect],
    ['envd over the agent socket', envdSocket],
    ['SandboxOrchestrator.exec', viaOrchestrator],
    ['data plane round trip (refused)', refused],
    ['data plane, agent side', undefined],
    ['data plane (h2c + host token)', viaDataPlane],
    ['data plane, 1 MiB of stdout', bigOutput, 'apart'],
  ];
  const feeder = (name) => (name.startsWith('init agent') ? initSpawn : name === 'data plane, agent side' ? viaDataPlane : undefined);
  return { layers, feeder, initSpawn, viaDataPlane };
}

const baselineAt = process.argv.indexOf('--baseline');
const trees = [{ label: 'this tree', repo: join(here, '..') }];
if (baselineAt > 0) trees.unshift({ label: 'baseline', repo: resolve(process.argv[baselineAt + 1]) });
const cleanups = [];
try {
  for (const [slot, tree] of trees.entries()) Object.assign(tree, await setUp(tree.repo, slot, cleanups));
  const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
  for (const tree of trees) {
    // A layer without a run of its own is filled by another's marks: that run goes too.
    const feeds = (run) => tree.layers.some(([n, r]) => !r && only.test(n) && tree.feeder(n) === run);
    if (only) for (const layer of tree.layers) if (!only.test(layer[0]) && !(layer[1] && feeds(layer[1]))) layer[1] = undefined;
    tree.times = new Map(tree.layers.map(([name]) => [name, []]));
  }
  // Layers marked 'apart' run in rounds of their own after the others: what a large answer leaves
  // behind (buffers, a cold cache on the next call) must not land on the small layers' numbers.
  for (const apart of [false, true]) for (let i = 0; i < WARMUP + (apart ? Math.ceil(EXECS / 5) : EXECS); i++) {
    for (const tree of trees) {
      for (const [name, run, kind] of tree.layers) {
        if (!run || (kind === 'apart') !== apart) continue;
        const marks = {};
        const t0 = performance.now();
        await run(marks);
        const took = performance.now() - t0;
        if (i < WARMUP) continue;
        tree.times.get(name).push(took);
        if (run === tree.viaDataPlane && marks.agentSide !== undefined) tree.times.get('data plane, agent side').push(marks.agentSide);
        if (run === tree.initSpawn) {
          tree.times.get('init agent: spawn answered').push(marks.answered);
          tree.times.get('init agent: exit reported').push(marks.exited);
        }
      }
    }
  }
  console.log(`exec of \`true\` inside the host agent, ${EXECS} rounds (load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  // p10 is near what a quiet machine shows; p50 and p99 carry the load of the moment.
  const cols = (xs) => (xs.length ? [10, 50, 99].map((p) => pct(xs, p).toFixed(3).padStart(8)).join(' ') : '       -        -        -');
  console.log(`${''.padEnd(36)} ${trees.map((t) => t.label.padEnd(26)).join(' ')}`);
  console.log(`${'layer'.padEnd(36)} ${trees.map(() => `${'p10 ms'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`).join(' ')}`);
  for (const [name] of trees[trees.length - 1].layers) {
    if (trees.every((t) => !t.times.get(name)?.length)) continue;
    console.log(`${name.padEnd(36)} ${trees.map((t) => cols(t.times.get(name) ?? [])).join(' ')}`);
  }
} finally {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
}

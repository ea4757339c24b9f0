import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Server, Socket } from 'node:net';
import { createLogger } from '@wrenn/logger';
import { generateHostTokenKeys, HostTokenVerifier } from '@wrenn/service-kit';
import { ulid } from 'ulid';
import { CgroupManager } from '../../cgroups';
import { DataPlaneServer, startDataPlane } from '../../data-plane/data-plane.server';
import { EnvdClient, envdClientFor } from '../../envd-client/envd.client';
import { EnvdProxyServer, startEnvdProxy } from '../../envd-proxy/envd-proxy.server';
import { NetworkManager } from '../../networking';
import { SandboxOrchestrator } from '../../sandbox/sandbox-orchestrator';
import { NamespaceRuntime } from './namespace-sandboxes';
import { unusedSlotCidr } from '../../networking';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(226);

/**
 * From inside a real namespace sandbox, as its root: no TCP connection opens to the host agent's
 * data plane or envd proxy, nor to NATS (4222) or PostgreSQL (5432), on any address of the host.
 * The listeners here bind the way the most open deployment would (0.0.0.0, or every host address),
 * and the host itself connects to each of them first, so a refused probe is the sandbox's egress
 * policy at work and not a listener that was never there.
 */
const IMAGE_DIR = process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images';
const KEY = `r${Math.random().toString(36).slice(2, 6)}`;
const NATS_PORT = 4222;
const POSTGRES_PORT = 5432;

/**
 * Prints, for each "host port" argument, "open" when a TCP connection was made, else "closed"
 * (1.5 s each, in parallel; bash's /dev/tcp, so the sandbox needs nothing but its shell).
 */
const PROBE = `i=0; for t in "$@"; do i=$((i+1)); ( if timeout 1.5 bash -c 'exec 3<>"/dev/tcp/\${0% *}/\${0#* }"' "$t" 2>/dev/null; then echo open; else echo closed; fi > /tmp/probe.$i ) & done; wait
i=0; for t in "$@"; do i=$((i+1)); cat /tmp/probe.$i; done`;

function hostAddresses(): string[] {
  return execFileSync('ip', ['-4', '-o', 'addr', 'show'])
    .toString()
    .split('\n')
    .map((l) => /inet (\S+)\//.exec(l)?.[1])
    .filter((ip): ip is string => !!ip);
}

function connectsFromHost(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => (socket.destroy(), resolve(ok));
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

/** A stand-in listener on host:port; null when something (the real server) already listens there. */
function standIn(host: string, port: number): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.end());
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' || error.code === 'EADDRNOTAVAIL' ? resolve(null) : reject(error)));
    server.listen(port, host, () => resolve(server));
  });
}

describe('a sandbox cannot reach the control plane on any host address (root, kernel)', { timeout: 180_000 }, () => {
  let stateDir: string;
  let network: NetworkManager;
  let runtime: NamespaceRuntime;
  let dataPlane: DataPlaneServer;
  let envdProxy: EnvdProxyServer;
  const cgroups = new CgroupManager({ group: `wrenn-${KEY}` });
  const standIns: Server[] = [];
  const clients: EnvdClient[] = [];
  const sandboxId = `sb_${ulid().toLowerCase()}`;
  /** The host's addresses once the sandbox is up (its own slot's gateway among them). */
  let addresses: string[] = [];

  before(async () => {
    stateDir = await mkdtemp('/tmp/wrenn-reach-');
    network = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 0 });
    runtime = new NamespaceRuntime({ stateDir, imageDir: IMAGE_DIR, network, cgroups, envdHost: {} });
    await runtime.prepare();
    await runtime.recover();
    await runtime.create({ sandboxId, teamId: 't', template: 'base', vcpus: 1, memoryMb: 256 });
    // The real listeners, bound as openly as an operator could: every address of the host.
    const log = createLogger('test');
    log.level = 'silent';
    const tokens = new HostTokenVerifier('reach-test', async () => generateHostTokenKeys().publicKey);
    const orchestrator = new SandboxOrchestrator(runtime, log);
    dataPlane = await startDataPlane(orchestrator, tokens, { host: '0.0.0.0', port: 0, advertise: '127.0.0.1' }, log);
    envdProxy = await startEnvdProxy((id) => orchestrator.envdRoute(id), tokens, { host: '0.0.0.0', port: 0, advertise: '127.0.0.1' }, log);
    // NATS and PostgreSQL as a deployment that listens on the host's addresses would have them.
    addresses = hostAddresses();
    for (const address of addresses) {
      for (const port of [NATS_PORT, POSTGRES_PORT]) {
        const server = await standIn(address, port);
        if (server) standIns.push(server);
      }
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await dataPlane?.close();
    await envdProxy?.close();
    for (const s of standIns) await new Promise((r) => s.close(r));
    await runtime.destroy(sandboxId).catch(() => undefined);
    await runtime.shutdown();
    await network.stop({ removeHostRules: true });
    await cgroups.removeGroup();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('every target answers the host itself, and none answers the sandbox', async () => {
    // Addresses of other sandboxes' slots may come and go meanwhile: probe those still here.
    const present = new Set(hostAddresses());
    // The host side of the sandbox's own /30 (its default gateway) is the most obvious way out.
    const inside = new URL((await runtime.endpoint(sandboxId)).envdUrl).hostname.split('.').map(Number);
    const gateway = [...inside.slice(0, 3), inside[3] - 1].join('.');
    assert.ok(addresses.includes(gateway), `the sandbox's gateway ${gateway} is among the host addresses probed: ${addresses.join(', ')}`);
    const ports = { 'data plane': Number(new URL(dataPlane.url).port), 'envd proxy': Number(new URL(envdProxy.url).port), nats: NATS_PORT, postgresql: POSTGRES_PORT };
    const targets = addresses.filter((a) => present.has(a)).flatMap((address) => Object.entries(ports).map(([what, port]) => ({ what, address, port })));

    for (const t of targets) assert.ok(await connectsFromHost(t.address, t.port), `the host itself cannot reach the ${t.what} at ${t.address}:${t.port}`);

    const envd = envdClientFor(sandboxId, await runtime.endpoint(sandboxId));
    clients.push(envd);
    const r = await envd.exec({ cmd: 'bash', args: ['-c', PROBE, 'probe', ...targets.map((t) => `${t.address} ${t.port}`)], user: 'root' }, 60);
    assert.equal(r.exitCode, 0, r.stderr);
    const outcomes = r.stdout.trim().split('\n');
    assert.equal(outcomes.length, targets.length);
    const opened = targets.filter((_, i) => outcomes[i] === 'open').map((t) => `${t.what} at ${t.address}:${t.port}`);
    assert.deepEqual(opened, [], 'reachable from inside the sandbox');
  });
});

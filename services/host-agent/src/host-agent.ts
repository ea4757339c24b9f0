import { Aggregate, naming, RuntimeKind } from '@wrenn/contracts';
import { loadConfig, WrennConfig } from '@wrenn/config';
import { EventStore } from '@wrenn/eventlog';
import { createLogger, Logger } from '@wrenn/logger';
import { connectNats } from '@wrenn/messaging';
import { hostIdentity } from '@wrenn/nats-auth';
import type { MetricsListener } from '@wrenn/observability';
import { HostTokenVerifier, RunningService, startMetricsListener, startTracing, verifyKeySource } from '@wrenn/service-kit';
import { randomUUID } from 'node:crypto';
import { NatsConnection, Subscription } from 'nats';
import { serveHostCommands } from './commands/host-commands';
import { DataPlaneServer, startDataPlane } from './data-plane/data-plane.server';
import { EnvdProxyServer, startEnvdProxy } from './envd-proxy/envd-proxy.server';
import { HostAdmission } from './admission/host-admission';
import { Heartbeat } from './heartbeat/heartbeat';
import { provideHostMetrics } from './metrics/host-metrics';
import { createRuntimeAndNetwork } from './runtime/create-runtime';
import { join } from 'node:path';
import { SandboxOrchestrator } from './sandbox/sandbox-orchestrator';

const VERSION = '0.1.0';

/**
 * One host agent: prepares its runtime (base image), recovers what a previous run left, records
 * that on the log, then serves host commands and heartbeats. Announcing comes last, so the
 * scheduler never places on a host that cannot yet create.
 */
export class HostAgent implements RunningService {
  readonly name = 'host-agent';
  readonly bootId = randomUUID();
  private subscriptions: Subscription[] = [];
  private heartbeat: Heartbeat | undefined;
  private dataPlane!: DataPlaneServer;
  private envdProxy: EnvdProxyServer | undefined;
  private metrics: MetricsListener | undefined;
  private unprovideMetrics: (() => void) | undefined;

  private constructor(
    private readonly config: WrennConfig,
    private readonly nc: NatsConnection,
    private readonly orchestrator: SandboxOrchestrator,
    private readonly log: Logger,
  ) {}

  static async boot(config: WrennConfig = loadConfig()): Promise<HostAgent> {
    const log = createLogger('host-agent', { hostId: config.host.id });
    startTracing(config);
    const nc = await connectNats(config, hostIdentity(config.host.id), `wrenn-host-agent-${config.host.id}`);
    try {
      const names = naming(config.namespace);
      const { runtime, network } = createRuntimeAndNetwork(config, log);
      const orchestrator = new SandboxOrchestrator(runtime, log, { egress: network, policyDir: join(config.host.stateDir, 'network-policies'), envdErrorBodyMax: config.edge.envdErrorBodyMax });
      const agent = new HostAgent(config, nc, orchestrator, log);
      const started = performance.now();
      const report = await orchestrator.start();
      log.info({ adopted: report.adopted, removed: report.removed, paused: report.paused, templates: report.templates, ms: Math.round(performance.now() - started) }, 'runtime ready');

      // The control plane makes the stream; a host agent's creds may not, so with auth on it
      // waits for it (an agent may boot before the control plane).
      const store = await EventStore.create(nc, names);
      if (config.natsInsecure && !config.natsCredsDir && !config.natsCredsFile) await store.ensureStream();
      else await store.waitForStream(config.host.controlPlaneWaitMs, (error) => log.info({ err: (error as Error).message }, 'waiting for the control plane to create the event stream'));
      const version = await store.versionOfOwn(Aggregate.Host, config.host.id);
      await store.append(
        Aggregate.Host,
        config.host.id,
        [{ type: 'host.agent_started', data: { hostId: config.host.id, bootId: agent.bootId, runtime: runtime.kind, adopted: report.adopted, removed: report.removed } }],
        { correlationId: agent.bootId, causationId: agent.bootId, actor: { kind: 'system', id: `host-agent:${config.host.id}` }, teamId: 'system' },
        version,
      );

      const capacity = { vcpus: config.host.vcpus, memoryMb: config.host.memoryMb, maxSandboxes: config.host.maxSandboxes };
      const admission = new HostAdmission({
        hostId: config.host.id,
        capacity,
        reserveMb: config.host.memoryReserveMb,
        overcommit: config.host.memoryOvercommit,
        perSandboxMb: config.host.sandboxStartMb,
        usage: () => orchestrator.usage(),
      });
      agent.subscriptions = serveHostCommands(nc, names, config.host.id, orchestrator, log, admission);
      // Both listeners take only calls with a host token the gateway minted for this host.
      const tokens = new HostTokenVerifier(config.host.id, verifyKeySource(nc, names, config.dataPlaneAuth.verifyKey, log), config.dataPlaneAuth);
      agent.dataPlane = await startDataPlane(orchestrator, tokens, { host: config.host.dataPlaneHost, port: config.host.dataPlanePort, advertise: config.host.advertiseHost }, log);
      agent.envdProxy = await startEnvdProxy((id) => orchestrator.envdRoute(id), tokens, { host: config.host.envdProxyHost, port: config.host.envdProxyPort, advertise: config.host.advertiseHost }, log);
      agent.heartbeat = new Heartbeat(nc, names, {
        hostId: config.host.id,
        bootId: agent.bootId,
        runtime: runtime.kind as RuntimeKind,
        capacity,
        intervalMs: config.host.heartbeatMs,
        leaseMs: config.host.leaseMs,
        version: VERSION,
        dataPlaneUrl: agent.dataPlane.url,
        envdProxyUrl: agent.envdProxy.url,
        usage: () => orchestrator.usage(),
        memory: () => admission.memory(),
        warm: () => orchestrator.warmCounts(),
      }, log);
      await agent.heartbeat.start(config.host.controlPlaneWaitMs, config.natsInsecure && !config.natsCredsDir && !config.natsCredsFile);
      const heartbeat = agent.heartbeat;
      orchestrator.onWarmReady(() => heartbeat.soon());
      // Last, when nothing can fail any more: a failed boot leaves no listener share behind.
      agent.unprovideMetrics = provideHostMetrics({ hostId: config.host.id, stateDir: config.host.stateDir, usage: () => orchestrator.usage(), sandboxes: () => orchestrator.list(), network: () => network.describe(), memoryReserveMb: config.host.memoryReserveMb });
      agent.metrics = await startMetricsListener(config, log, 'host-agent');
      return agent;
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Stops taking commands. Sandboxes keep running: the next agent start re-adopts them.
   */
  async close(): Promise<void> {
    await this.heartbeat?.stop(true);
    for (const sub of this.subscriptions) sub.unsubscribe();
    await this.dataPlane?.close();
    await this.envdProxy?.close();
    await this.orchestrator.shutdown().catch((error) => this.log.warn({ err: error }, 'runtime shutdown incomplete'));
    await this.nc.drain().catch(() => undefined);
    this.unprovideMetrics?.();
    await this.metrics?.release();
    this.log.info({ hostId: this.config.host.id }, 'host agent stopped');
  }
}

import { stopSignalHandler } from './stop-signal';
import { bootstrapAuth } from '@wrenn/auth';
import { bootstrapGateway } from '@wrenn/gateway';
import { bootstrapHostAgent } from '@wrenn/host-agent';
import { createLogger } from '@wrenn/logger';
import { bootstrapProjector } from '@wrenn/projector';
import { bootstrapReaper } from '@wrenn/reaper';
import { bootstrapSandboxScheduler } from '@wrenn/sandbox-scheduler';
import { RunningService } from '@wrenn/service-kit';
import { bootstrapSnapshotCatalog } from '@wrenn/snapshot-catalog';
import { ownRolesForStart } from './database';

export const SERVICES = {
  'sandbox-scheduler': bootstrapSandboxScheduler,
  // Feeds the read models the gateway reads (and waits on, for read-your-writes).
  projector: bootstrapProjector,
  auth: bootstrapAuth,
  'snapshot-catalog': bootstrapSnapshotCatalog,
  reaper: bootstrapReaper,
  'host-agent': bootstrapHostAgent,
  gateway: bootstrapGateway,
} as const satisfies Record<string, () => Promise<RunningService>>;
export type ServiceKey = keyof typeof SERVICES;

/**
 * Boots the chosen services in this process (all of them by default) and shuts them down in
 * reverse order on SIGINT/SIGTERM. Services only talk over NATS and PostgreSQL, so running them
 * together changes nothing but the process count.
 */
export async function start(only?: string): Promise<void> {
  const log = createLogger('wrenn');
  // One name, or several separated by commas (e.g. the control plane in one process and the
  // host agent in another).
  const chosen = only === undefined ? Object.keys(SERVICES) : only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of chosen) {
    if (!(name in SERVICES)) throw new Error(`unknown service "${name}"; one of: ${Object.keys(SERVICES).join(', ')}`);
  }
  const names = Object.keys(SERVICES).filter((name) => chosen.includes(name)) as ServiceKey[];
  // Each service connects with its own PostgreSQL role (made here, before any service starts).
  await ownRolesForStart(names);
  const running: RunningService[] = [];
  const stop = async (signal: string) => {
    log.info({ signal }, 'stopping');
    // The gateway stops taking requests first, then the reaper finishes its pass (a TTL pause
    // already on a host completes, which needs the scheduler and the host agent still up), then
    // the scheduler finishes the deletes it accepted (their host work needs the host agent, their
    // last event the projector); the rest go in reverse order of start.
    const first = ['gateway', 'reaper', 'sandbox-scheduler'];
    const order = [...first.flatMap((name) => running.filter((s) => s.name === name)), ...running.filter((s) => !first.includes(s.name)).reverse()];
    for (const service of order) {
      const started = Date.now();
      await service.close().catch((error) => log.error({ err: error, service: service.name }, 'stop failed'));
      // Shown at the default level: a stop that drags is what an operator (or a test) needs to see.
      if (Date.now() - started > 2000) log.warn({ service: service.name, ms: Date.now() - started }, 'slow stop');
    }
    process.exit(0);
  };
  // A signal twice in a row (process group + npm's wrapper) is one stop (stop-signal.ts).
  const onSignal = stopSignalHandler(stop);
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  // The host agent may spend a while building its base image on first start: let it run
  // alongside the control plane instead of in front of it.
  const hostAgent = names.includes('host-agent') ? bootstrapHostAgent() : undefined;
  for (const name of names) {
    if (name === 'host-agent') continue;
    const service = await SERVICES[name]();
    running.push(service);
    if ('url' in service) {
      console.log(`Wrenn API listening on ${(service as { url: string }).url}  (health: ${(service as { url: string }).url}/healthz)`);
    }
  }
  if (hostAgent) {
    running.push(await hostAgent);
    log.info('host agent ready');
  }
  console.log(`Wrenn started: ${names.join(', ')}`);
}

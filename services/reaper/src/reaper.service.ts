import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import {
  Aggregate,
  CommandMeta,
  HostHeartbeat,
  HostOp,
  HostSandboxList,
  isLive,
  Naming,
  SchedulerCommand,
  ServiceName,
} from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { EventStore } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { request, sendCommand } from '@wrenn/messaging';
import { CONFIG, DATA_SOURCE, EVENT_STORE, LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { KV, NatsConnection } from 'nats';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { decideInFlight, findOrphans, ProjectedSandbox, SweepLimits } from './reconcile';

export const SCHEDULER_CLIENT = 'wrenn.reaper.scheduler-client';

function envMs(name: string, fallback: number): number {
  const raw = Number(process.env[name]);
  return Number.isFinite(raw) && raw > 0 ? raw : fallback;
}

/**
 * Keeps the projection and the hosts honest, every few seconds:
 * - in-flight sweep: sandboxes whose create or destroy died with a scheduler or host agent are
 *   failed or have their destroy re-driven (decided by decideInFlight);
 * - orphan collection: sandboxes a live host runs but the platform does not want are destroyed.
 * Several reaper replicas may run: every action is an idempotent command.
 */
@Injectable()
export class ReaperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private kv: KV | undefined;
  private readonly intervalMs = envMs('WRENN_REAPER_INTERVAL_MS', 5000);
  private readonly limits: SweepLimits;
  private readonly settleMs = envMs('WRENN_REAPER_SETTLE_MS', 10_000);

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONFIG) config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(SCHEDULER_CLIENT) private readonly scheduler: ClientProxy,
  ) {
    this.limits = {
      pendingGraceMs: envMs('WRENN_REAPER_PENDING_GRACE_MS', 30_000),
      createTimeoutMs: config.hostCreateTimeoutMs + 30_000,
      stopGraceMs: config.hostCommandTimeoutMs + 30_000,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.scheduler.connect();
    this.kv = await this.nc.jetstream().views.kv(this.naming.hostsBucket, { history: 1 });
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.intervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.scheduler.close();
  }

  /** One full pass; exposed so tests and operators can run it on demand. */
  async tick(): Promise<void> {
    try {
      const hosts = await this.hosts();
      const rows = await this.projected();
      await this.sweepInFlight(rows, hosts);
      await this.collectOrphans(rows, hosts);
    } catch (error) {
      this.log.warn({ err: error }, 'reaper pass failed');
    }
  }

  private meta(action: string): CommandMeta {
    const id = randomUUID();
    return { commandId: `reaper_${action}_${id}`, correlationId: id, actor: { kind: 'system', id: 'reaper' }, teamId: 'system' };
  }

  private async hosts(): Promise<Map<string, HostHeartbeat>> {
    const out = new Map<string, HostHeartbeat>();
    for await (const key of await this.kv!.keys()) {
      const entry = await this.kv!.get(key);
      if (entry?.operation === 'PUT') out.set(key, entry.json<HostHeartbeat>());
    }
    return out;
  }

  private async projected(): Promise<Map<string, ProjectedSandbox & { teamId: string }>> {
    const rows: Array<{ id: string; state: string; host_id: string | null; boot_id: string | null; team_id: string; idle_ms: string }> =
      await this.ds.query(
        `SELECT id, state, host_id, boot_id, team_id, (extract(epoch FROM (now() - updated_at)) * 1000)::bigint AS idle_ms
         FROM sandboxes WHERE state <> 'stopped'`,
      );
    return new Map(rows.map((r) => [r.id, { id: r.id, state: r.state, hostId: r.host_id, bootId: r.boot_id, teamId: r.team_id, idleMs: Number(r.idle_ms) }]));
  }

  private async sweepInFlight(rows: Map<string, ProjectedSandbox & { teamId: string }>, hosts: Map<string, HostHeartbeat>): Promise<void> {
    const now = Date.now();
    for (const row of rows.values()) {
      const action = decideInFlight(row, row.hostId ? hosts.get(row.hostId) : undefined, now, this.limits);
      if (action.kind === 'wait') continue;
      const meta = { ...this.meta(action.kind), teamId: row.teamId };
      const subject = (c: SchedulerCommand) => this.naming.commandSubject(ServiceName.SandboxScheduler, c);
      try {
        if (action.kind === 'fail') {
          await sendCommand(this.scheduler, subject(SchedulerCommand.Fail), { meta, sandboxId: row.id, reason: action.reason }, 30_000, 'scheduler');
        } else {
          await sendCommand(this.scheduler, subject(SchedulerCommand.Destroy), { meta, sandboxId: row.id }, 60_000, 'scheduler');
        }
        this.log.info({ sandboxId: row.id, action }, 'reaper settled an interrupted operation');
      } catch (error) {
        this.log.warn({ sandboxId: row.id, action, err: error }, 'reaper action failed');
      }
    }
  }

  private async collectOrphans(rows: Map<string, ProjectedSandbox>, hosts: Map<string, HostHeartbeat>): Promise<void> {
    const now = Date.now();
    for (const host of hosts.values()) {
      if (!isLive(host, now)) continue;
      let list: HostSandboxList;
      try {
        list = await request<HostSandboxList>(this.nc, this.naming.hostSubject(host.hostId, HostOp.List), {}, 10_000);
      } catch (error) {
        this.log.warn({ hostId: host.hostId, err: error }, 'could not list host sandboxes');
        continue;
      }
      for (const id of findOrphans(list.sandboxIds, rows, this.settleMs, host.hostId)) {
        // Not in the read model may mean "not projected yet": only the log can say it never existed.
        if (!rows.has(id) && (await this.store.version(Aggregate.Sandbox, id)) !== 0) {
          const stopped = await this.ds.query(`SELECT 1 FROM sandboxes WHERE id = $1 AND state = 'stopped'`, [id]);
          if (stopped.length === 0) continue;
        }
        try {
          await request(this.nc, this.naming.hostSubject(host.hostId, HostOp.Destroy), { commandId: `reaper_orphan_${id}`, sandboxId: id }, 60_000);
          this.log.warn({ hostId: host.hostId, sandboxId: id }, 'destroyed orphan sandbox');
        } catch (error) {
          this.log.warn({ hostId: host.hostId, sandboxId: id, err: error }, 'could not destroy orphan');
        }
      }
    }
  }
}

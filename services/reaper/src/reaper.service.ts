import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import {
  Aggregate,
  CatalogCommand,
  CommandMeta,
  ErrorCode,
  FailSandboxRequest,
  FailTemplateRequest,
  HostHeartbeat,
  HostOp,
  HostSandboxList,
  isLive,
  MarkLostRequest,
  Naming,
  PauseSandboxRequest,
  ResumeSandboxRequest,
  SchedulerCommand,
  ServiceName,
  WrennError,
} from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { EventStore } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { HostClient, kvLatest, sendCommand } from '@wrenn/messaging';
import { CONFIG, EVENT_STORE, LOGGER, NAMING, NATS } from '@wrenn/service-kit';
import { KV, NatsConnection } from 'nats';
import { randomUUID } from 'node:crypto';
import { decideInFlight, decideTtl, findAbandonedTemplates, findLost, findOrphans, findVanished, ProjectedSandbox, SweepLimits } from './reconcile';
import { ReconciledSandbox, ReconcileRepository } from './repositories/reconcile.repository';

type Row = ReconciledSandbox;

/** How long shutdown waits for a pass in flight (a pause takes well under a second). */
const SHUTDOWN_WAIT_MS = 10_000;

export const SCHEDULER_CLIENT = 'wrenn.reaper.scheduler-client';

/**
 * Keeps the projection and the hosts honest, every few seconds (all decisions in reconcile.ts):
 * - in-flight sweep: sandboxes whose create, pause, resume or destroy died with a scheduler or
 *   host agent are failed, or the operation is re-driven;
 * - lost hosts: live work on a host whose heartbeat is older than its lease becomes `lost`;
 * - reconciler: each live host's list against the read model — orphans (and unwanted pause
 *   snapshots) are destroyed, running sandboxes the host no longer has become `failed`;
 * - TTL: running sandboxes idle for their `timeout_sec` are paused (`sandbox.auto_paused`), or
 *   destroyed when the pause finds them already gone;
 * - templates abandoned mid-creation by a crashed catalog are failed (their name is freed).
 * Several reaper replicas may run: every action is an idempotent command that the decider
 * refuses when another replica got there first.
 */
@Injectable()
export class ReaperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private activity: Promise<KV> | undefined;
  /** Set on shutdown: the pass in flight finishes what it started and starts nothing new. */
  private stopping = false;
  private readonly intervalMs: number;
  private readonly limits: SweepLimits;
  private readonly settleMs: number;
  /** After the reaper starts, how long hosts get to beat before their sandboxes can be lost. */
  private readonly startupGraceMs: number;
  private readonly startedAt = Date.now();
  private readonly hostClient: HostClient;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
    private readonly reads: ReconcileRepository,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONFIG) config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(SCHEDULER_CLIENT) private readonly scheduler: ClientProxy,
  ) {
    this.intervalMs = config.reaper.intervalMs;
    this.settleMs = config.reaper.settleMs;
    this.startupGraceMs = config.reaper.startupGraceMs;
    this.limits = {
      pendingGraceMs: config.reaper.pendingGraceMs,
      createTimeoutMs: config.hostCreateTimeoutMs + 30_000,
      stopGraceMs: config.hostCommandTimeoutMs + 30_000,
    };
    this.hostClient = new HostClient(nc, naming);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.scheduler.connect();
    // Opened once so the bucket exists before the first pass reads it.
    await this.nc.jetstream().views.kv(this.naming.hostsBucket, { history: 1 });
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.intervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.stopping = true;
    // A pass in flight finishes — a pause the host already started is recorded, not abandoned —
    // within a bound, so a pass stuck on an unresponsive peer cannot hold the process forever.
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SHUTDOWN_WAIT_MS)));
      if ((await Promise.race([this.running.then(() => 'done' as const), bounded])) === 'late') {
        this.log.warn({ waitedMs: SHUTDOWN_WAIT_MS }, 'reaper pass still running at shutdown; leaving it');
      }
      clearTimeout(timer);
    }
    await this.scheduler.close();
  }

  /** One full pass; exposed so tests and operators can run it on demand. */
  async tick(): Promise<void> {
    try {
      const hosts = await this.hosts();
      const rows = await this.reads.liveSandboxes();
      const phases = [
        () => this.sweepInFlight(rows, hosts),
        () => this.markLost(rows, hosts),
        () => this.reconcileHosts(rows, hosts),
        () => this.pauseIdle(rows),
        () => this.failAbandonedTemplates(),
      ];
      for (const phase of phases) {
        if (this.stopping) return;
        await phase();
      }
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
    for (const entry of await kvLatest(this.nc, this.naming.hostsBucket)) out.set(entry.key, entry.json<HostHeartbeat>());
    return out;
  }

  private subject(command: SchedulerCommand): string {
    return this.naming.commandSubject(ServiceName.SandboxScheduler, command);
  }

  private async markLost(rows: Map<string, Row>, hosts: Map<string, HostHeartbeat>): Promise<void> {
    for (const lost of findLost(rows.values(), hosts, Date.now(), { sinceMs: this.startedAt, startupGraceMs: this.startupGraceMs })) {
      const row = rows.get(lost.sandboxId)!;
      const payload: MarkLostRequest = { meta: { ...this.meta('lost'), teamId: row.teamId }, ...lost };
      try {
        await sendCommand(this.scheduler, this.subject(SchedulerCommand.MarkLost), payload, 30_000, 'scheduler');
        row.state = 'lost';
        this.log.warn({ sandboxId: lost.sandboxId, hostId: lost.hostId, reason: lost.reason }, 'sandbox lost with its host');
      } catch (error) {
        this.log.warn({ sandboxId: lost.sandboxId, err: error }, 'could not mark sandbox lost');
      }
    }
  }

  /** Running sandboxes idle past their timeout are paused; one already gone from its host is destroyed. */
  private async pauseIdle(rows: Map<string, Row>): Promise<void> {
    const now = Date.now();
    for (const row of rows.values()) {
      if (this.stopping) return;
      if (row.state !== 'running' || !row.timeoutSec) continue;
      const decision = decideTtl(row, await this.lastActivity(row.id), now);
      if (decision.kind !== 'pause') continue;
      const meta = { ...this.meta('ttl'), teamId: row.teamId };
      const payload: PauseSandboxRequest = { meta, sandboxId: row.id, reason: 'ttl' };
      try {
        await sendCommand(this.scheduler, this.subject(SchedulerCommand.Pause), payload, 60_000, 'scheduler');
        this.log.info({ sandboxId: row.id, idleMs: decision.idleMs, timeoutSec: row.timeoutSec }, 'paused an idle sandbox');
      } catch (error) {
        const gone = error instanceof WrennError && error.details?.host_code === ErrorCode.SandboxNotFound;
        this.log.warn({ sandboxId: row.id, err: error, gone }, 'could not pause an idle sandbox');
        if (!gone) continue;
        // The host no longer has it: nothing to keep, so the timeout ends it instead.
        await sendCommand(this.scheduler, this.subject(SchedulerCommand.Destroy), { meta: { ...this.meta('ttl_destroy'), teamId: row.teamId }, sandboxId: row.id }, 60_000, 'scheduler')
          .then(() => this.log.warn({ sandboxId: row.id }, 'destroyed an idle sandbox its host no longer had'))
          .catch((err: unknown) => this.log.warn({ sandboxId: row.id, err }, 'could not destroy an idle sandbox'));
      }
    }
  }

  private async failAbandonedTemplates(): Promise<void> {
    const rows = await this.reads.creatingTemplates();
    const abandoned = findAbandonedTemplates(rows, this.limits.createTimeoutMs);
    for (const id of abandoned) {
      const teamId = rows.find((r) => r.id === id)!.teamId;
      const payload: FailTemplateRequest = { meta: { ...this.meta('template'), teamId }, templateId: id, reason: 'abandoned while being created' };
      await sendCommand(this.scheduler, this.naming.commandSubject(ServiceName.SnapshotCatalog, CatalogCommand.FailTemplate), payload, 30_000, 'snapshot catalog')
        .then(() => this.log.warn({ templateId: id }, 'failed an abandoned template'))
        .catch((error: unknown) => this.log.warn({ templateId: id, err: error }, 'could not fail an abandoned template'));
    }
  }

  private async lastActivity(sandboxId: string): Promise<number | undefined> {
    this.activity ??= this.nc.jetstream().views.kv(this.naming.activityBucket, { history: 1 });
    const entry = await (await this.activity).get(sandboxId);
    const at = entry?.operation === 'PUT' ? Number(entry.string()) : NaN;
    return Number.isFinite(at) ? at : undefined;
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
          // Only while it is still as judged: a create that finished meanwhile is not failed.
          const payload: FailSandboxRequest = { meta, sandboxId: row.id, reason: action.reason, whileIn: row.state as 'pending' | 'starting' };
          await sendCommand(this.scheduler, subject(SchedulerCommand.Fail), payload, 30_000, 'scheduler');
        } else if (action.kind === 'redrive-pause') {
          const payload: PauseSandboxRequest = { meta, sandboxId: row.id, reason: 'ttl', redrive: true };
          await sendCommand(this.scheduler, subject(SchedulerCommand.Pause), payload, 60_000, 'scheduler');
        } else if (action.kind === 'redrive-resume') {
          const payload: ResumeSandboxRequest = { meta, sandboxId: row.id, redrive: true };
          await sendCommand(this.scheduler, subject(SchedulerCommand.Resume), payload, 90_000, 'scheduler');
        } else {
          await sendCommand(this.scheduler, subject(SchedulerCommand.Destroy), { meta, sandboxId: row.id }, 60_000, 'scheduler');
        }
        this.log.info({ sandboxId: row.id, action }, 'reaper settled an interrupted operation');
      } catch (error) {
        this.log.warn({ sandboxId: row.id, action, err: error }, 'reaper action failed');
      }
    }
  }

  private async reconcileHosts(rows: Map<string, Row>, hosts: Map<string, HostHeartbeat>): Promise<void> {
    const now = Date.now();
    for (const host of hosts.values()) {
      if (!isLive(host, now)) continue;
      let list: HostSandboxList;
      try {
        list = await this.hostClient.send(host.hostId, HostOp.List, {}, 10_000);
      } catch (error) {
        this.log.warn({ hostId: host.hostId, err: error }, 'could not list host sandboxes');
        continue;
      }
      for (const action of findVanished(list, rows.values(), this.settleMs, host.hostId)) {
        if (action.kind === 'paused-on-host') {
          this.log.warn({ hostId: host.hostId, sandboxId: action.sandboxId }, 'host holds as paused a sandbox projected running');
          continue;
        }
        const row = rows.get(action.sandboxId)!;
        const meta = { ...this.meta('vanished'), teamId: row.teamId };
        const payload: FailSandboxRequest = { meta, sandboxId: row.id, reason: action.reason, whileIn: 'running' };
        await sendCommand(this.scheduler, this.subject(SchedulerCommand.Fail), payload, 30_000, 'scheduler')
          .then(async () => {
            row.state = 'failed';
            this.log.warn({ hostId: host.hostId, sandboxId: row.id }, 'sandbox vanished from its host');
            // Its processes are gone but its slot, cgroups and files may not be: the host's
            // destroy releases whatever is left (and is a no-op when nothing is).
            await this.hostClient.send(host.hostId, HostOp.Destroy, { commandId: `reaper_vanished_${row.id}`, sandboxId: row.id }, 60_000);
          })
          .catch((error: unknown) => this.log.warn({ sandboxId: row.id, err: error }, 'could not settle a vanished sandbox'));
      }
      for (const id of findOrphans(list.sandboxIds, rows, this.settleMs, host.hostId, list.pausedIds ?? [], list.startedAt ?? {}, Date.now())) {
        // Not in the read model may mean "not projected yet": only the log can say it never existed.
        if (!rows.has(id) && (await this.store.version(Aggregate.Sandbox, id)) !== 0) {
          if (!(await this.reads.isDeleted(id))) continue;
        }
        try {
          await this.hostClient.send(host.hostId, HostOp.Destroy, { commandId: `reaper_orphan_${id}`, sandboxId: id }, 60_000);
          this.log.warn({ hostId: host.hostId, sandboxId: id }, 'destroyed orphan sandbox');
        } catch (error) {
          this.log.warn({ hostId: host.hostId, sandboxId: id, err: error }, 'could not destroy orphan');
        }
      }
    }
  }
}

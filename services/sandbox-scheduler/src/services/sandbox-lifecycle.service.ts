import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import {
  Aggregate,
  ClaimedOnHost,
  CommandAccepted,
  CommandMeta,
  CreatedOnHost,
  CreateSandboxRequest,
  DestroySandboxRequest,
  ErrorCode,
  FailSandboxRequest,
  hostFailureCode,
  HostHeartbeat,
  HostOp,
  isDefaultPolicy,
  isLive,
  MarkLostRequest,
  PausedOnHost,
  PauseSandboxRequest,
  requireLive,
  requireNetworkPolicy,
  ResumedOnHost,
  ResumeSandboxRequest,
  samePolicy,
  SandboxSpec,
  SetSandboxNetworkRequest,
  SetSandboxTimeoutRequest,
  stepMetadata,
  warmPoolKey,
  WrennError,
} from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { ExistingSandbox, SandboxCommand, SandboxEvent, sandboxDecider, SandboxRequest, SandboxState, SandboxStatus } from '@wrenn/domain';
import { CommandHandler, EventStore, HandleResult } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { HostClient } from '@wrenn/messaging';
import { CONFIG, EVENT_STORE, LOGGER } from '@wrenn/service-kit';
import { HostDirectory } from '../hosts/host-directory';
import type { FullHost } from '../hosts/placement';
import { TemplateLookup } from '../templates/template-lookup';
import { QuotaService } from '../quotas/quota.service';

/**
 * What the host is asked to run, from the sandbox's decided state alone: a create and a resume
 * send the same spec, and neither can send what the log does not hold.
 */
function hostSpec(state: ExistingSandbox): SandboxSpec {
  return {
    sandboxId: state.sandboxId,
    teamId: state.teamId,
    template: state.template,
    vcpus: state.vcpus,
    memoryMb: state.memoryMb,
    ...(state.templateId ? { templateId: state.templateId } : {}),
    ...(state.diskMb !== null ? { diskMb: state.diskMb } : {}),
    ...(isDefaultPolicy(state.network) ? {} : { network: state.network }),
  };
}

/** Waits between asks of a host that did not take a destroy (an agent restarting). */
const DELETE_RETRIES = [500, 1_000, 2_000, 4_000, 8_000];
/** The most a stopping scheduler waits for the deletes it is finishing. */
const SHUTDOWN_DELETE_WAIT_MS = 15_000;

/**
 * Drives the Sandbox aggregate through a lifecycle: every step is a decided event, every piece of
 * host work a host.<id>.<op> command whose outcome becomes the next event.
 *
 * Each step's causation id is "<commandId>:<step>", so a retried command (same id) skips the
 * steps already on the log instead of doing them twice.
 */
@Injectable()
export class SandboxLifecycleService implements OnModuleDestroy {
  private readonly sandboxes: CommandHandler<SandboxCommand, SandboxEvent, SandboxState>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly hosts: HostDirectory,
    private readonly hostClient: HostClient,
    private readonly templates: TemplateLookup,
    private readonly quotas: QuotaService,
  ) {
    this.sandboxes = new CommandHandler(store, Aggregate.Sandbox, sandboxDecider);
  }

  private async decide(id: string, command: SandboxCommand, meta: CommandMeta, step: string, options: { justRead?: boolean } = {}): Promise<HandleResult<SandboxState>> {
    const result = await this.sandboxes.handle(id, command, stepMetadata(meta, step), options);
    if (!result.duplicate && result.events.length > 0) await this.followQuota(id, result, meta, step);
    return result;
  }

  /** The sandbox's status on the log, for the quota's check of stale holdings. */
  private readonly statusOf = async (sandboxId: string) => (await this.sandboxes.state(sandboxId)).state.status;

  /**
   * The team's quota follows each decided sandbox event: an end releases the holding, a finished
   * pause records its snapshot, a failed pause or resume gives back what it had.
   */
  private async followQuota(sandboxId: string, result: HandleResult<SandboxState>, meta: CommandMeta, step: string): Promise<void> {
    const state = result.state;
    if (state.status === 'initial') return;
    const quotaMeta = { ...meta, teamId: state.teamId };
    for (const event of result.events) {
      switch (event.type) {
        case 'sandbox.stopped':
        case 'sandbox.failed':
        case 'sandbox.lost':
          await this.quotas.follow({ type: 'Release', sandboxId, reason: event.type }, quotaMeta, `${step}-release`);
          break;
        case 'sandbox.paused':
        case 'sandbox.auto_paused':
          await this.quotas.follow({ type: 'SettlePause', sandboxId, snapshotBytes: (event.data as { sizeBytes: number }).sizeBytes }, quotaMeta, `${step}-settle`);
          break;
        case 'sandbox.pause_failed':
          await this.quotas.follow({ type: 'UndoPause', sandboxId }, quotaMeta, `${step}-undo`);
          break;
        case 'sandbox.resume_failed':
          await this.quotas.follow({ type: 'UndoResume', sandboxId }, quotaMeta, `${step}-undo`);
          break;
      }
    }
  }

  async create(req: CreateSandboxRequest): Promise<CommandAccepted> {
    const log = this.log.child({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId });
    const started = performance.now();
    // The size, and for a frozen template the one host holding its files: decided here only.
    const { vcpus, memoryMb, template } = await this.templates.sourceFor(req.meta.teamId, req);
    // The team's quota decides first (429 quota_exceeded, nothing else recorded for the sandbox).
    const limits = this.quotas.limits(req.meta.teamId);
    await this.quotas.reserve({ type: 'ReserveCreate', sandboxId: req.sandboxId, vcpus, memoryMb, at: Date.now(), limits }, req.meta, 'create', this.statusOf);
    const request: SandboxRequest = {
      sandboxId: req.sandboxId,
      teamId: req.meta.teamId,
      template: req.template,
      vcpus,
      memoryMb,
      timeoutSec: req.timeoutSec,
      ...(template ? { templateId: template.id } : {}),
      ...(req.diskMb !== undefined ? { diskMb: req.diskMb } : {}),
      ...(req.network ? { network: req.network } : {}),
    };
    const warm = await this.claimWarm(req, request, template?.hostId, started);
    if (warm) return warm;
    const requested = await this.decide(req.sandboxId, { type: 'RequestSandbox', ...request }, req.meta, 'request').catch(async (error: unknown) => {
      // Refused by the sandbox's own decider (a bad policy, an id taken): give the reservation back.
      await this.quotas.follow({ type: 'Release', sandboxId: req.sandboxId, reason: 'create refused' }, req.meta, 'create-refused');
      throw error;
    });
    // A retry of a create that already got further has nothing left to do here.
    if (requested.state.status !== SandboxStatus.Pending) return { sandboxId: req.sandboxId, seq: requested.seq };

    // Placement on the directory's view; a host whose fresh figures find it full when the create
    // arrives refuses before doing anything (host_full), and the next host is tried.
    const refused = new Map<string, FullHost>();
    let host: HostHeartbeat;
    let created: CreatedOnHost;
    for (;;) {
      const placed = this.hosts.place({ vcpus, memoryMb, onlyHost: template?.hostId, exclude: new Set(refused.keys()) });
      if (!placed.host) throw await this.unplaced(req, template?.hostId, [...refused.values(), ...placed.full]);
      host = placed.host;
      const booking = placed.booking;
      // Each attempt is its own step, so a retried command skips the ones already on the log.
      const attempt = refused.size === 0 ? '' : `-${refused.size + 1}`;
      try {
        await this.decide(req.sandboxId, { type: 'ScheduleSandbox', hostId: host.hostId, bootId: host.bootId }, req.meta, `schedule${attempt}`);
      } catch (error) {
        booking.release();
        // Destroyed after a host refused it: the destroy owns the outcome now.
        if (refused.size > 0 && error instanceof WrennError && error.code === ErrorCode.InvalidState) {
          return { sandboxId: req.sandboxId, seq: (await this.sandboxes.state(req.sandboxId)).version };
        }
        throw error;
      }
      try {
        created = await this.hostClient.send(host.hostId, HostOp.Create, { commandId: req.meta.commandId, spec: hostSpec(requested.state) }, this.config.hostCreateTimeoutMs);
        booking.settle();
        break;
      } catch (error) {
        booking.release();
        if (error instanceof WrennError && error.code === ErrorCode.HostFull) {
          log.info({ hostId: host.hostId, reason: error.message }, 'host full, trying the next');
          refused.set(host.hostId, { hostId: host.hostId, resource: error.details?.resource === 'sandboxes' ? 'sandboxes' : 'memory', reason: error.message });
          continue;
        }
        throw await this.createFailed(req, host.hostId, error);
      }
    }

    try {
      const running = await this.decide(req.sandboxId, { type: 'MarkStarted', hostId: host.hostId, elapsedMs: created.elapsedMs }, req.meta, 'started');
      log.info({ hostId: host.hostId, hostMs: created.elapsedMs, totalMs: Math.round(performance.now() - started) }, 'sandbox running');
      return { sandboxId: req.sandboxId, seq: running.seq };
    } catch (error) {
      // Destroyed while it was being created: the destroy owns the outcome now.
      if (error instanceof WrennError && error.code === ErrorCode.InvalidState) {
        const { version } = await this.sandboxes.state(req.sandboxId);
        return { sandboxId: req.sandboxId, seq: version };
      }
      throw error;
    }
  }

  /**
   * The warm path: a create that a host serves from its warm pool costs ONE host command (claim)
   * and ONE sandbox event (sandbox.claimed: requested, placed and running at once), besides the
   * quota's reservation made before either. Undefined when it does not apply (another disk size,
   * no host reporting a warm sandbox of the template ready) or the host refused: then the cold
   * path runs as ever, and nothing of this attempt is on the log.
   *
   * What can go wrong, and what becomes of it:
   * - A retry of a create (same command id) that got further finds the sandbox on the log: one
   *   this path recorded answers again (its event, found by causation id); one the cold path
   *   began is left to the cold path, whose steps are idempotent.
   * - The host refuses (its pool turned out empty — the beat was stale — or it has no room now):
   *   it did nothing, and the cold path places the sandbox as ever.
   * - The claim fails or goes unanswered (timeout, an agent restarting): the host may hold the
   *   sandbox. It is told to destroy it (idempotent, and queued behind the claim on the host), the
   *   reservation is given back, and the caller gets the host's error. Nothing is on the log.
   * - The append fails (the log unreachable, refused): the same — destroyed on the host,
   *   reservation given back, the error returned.
   * - The scheduler dies after the claim and before the append: the host holds a sandbox the
   *   log never learns of. The reaper's reconcile leaves it alone while it is younger than the
   *   settle time (the host's list says when it made each) and then destroys it as an orphan, the
   *   log not knowing it; the quota releases a holding whose sandbox the log never knew as stale.
   * - A destroy cannot race the claim: until the append the id is on no log (a delete answers
   *   404) and no caller has been given it; after the append it is a running sandbox like any.
   */
  private async claimWarm(req: CreateSandboxRequest, request: SandboxRequest, onlyHost: string | undefined, started: number): Promise<CommandAccepted | undefined> {
    // Warm sandboxes have the host's default disk: another size never finds one.
    if (request.diskMb !== undefined) return undefined;
    const warmKey = warmPoolKey(request);
    const placed = this.hosts.placeWarm({ vcpus: request.vcpus, memoryMb: request.memoryMb, warmKey, onlyHost });
    if (!placed.host) return undefined;
    const { host, booking } = placed;
    const { state, history } = await this.sandboxes.state(req.sandboxId).catch((error: unknown) => {
      booking.release();
      throw error;
    });
    if (state.status !== 'initial') {
      booking.release();
      const causationId = stepMetadata(req.meta, 'claimed').causationId;
      const recorded = history.find((e) => e.causationId === causationId);
      return recorded ? { sandboxId: req.sandboxId, seq: recorded.seq } : undefined;
    }
    const command: SandboxCommand = { type: 'RecordClaim', ...request, hostId: host.hostId, bootId: host.bootId, elapsedMs: 0 };
    let claimedState: ExistingSandbox;
    try {
      // Decided ahead on the empty state (pure, nothing written): a request the decider refuses
      // (a bad policy) is refused by the cold path's RequestSandbox, before any host work.
      claimedState = sandboxDecider.decide(command, state).reduce(sandboxDecider.evolve, state) as ExistingSandbox;
    } catch {
      booking.release();
      return undefined;
    }
    const log = this.log.child({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId, hostId: host.hostId });
    let reply: ClaimedOnHost;
    try {
      reply = await this.hostClient.send(host.hostId, HostOp.Claim, { commandId: req.meta.commandId, spec: hostSpec(claimedState) }, this.config.hostCreateTimeoutMs);
    } catch (error) {
      booking.release();
      // No room on fresh figures: nothing was made, and the cold path looks at every host.
      if (error instanceof WrennError && error.code === ErrorCode.HostFull) return undefined;
      throw await this.claimFailed(req, host.hostId, error, true);
    }
    if (!reply.claimed) {
      booking.release();
      this.hosts.noteWarm(host.hostId, warmKey, 0);
      log.debug({ reason: reply.reason }, 'warm claim refused; starting it cold');
      return undefined;
    }
    booking.settle();
    if (reply.warmLeft !== undefined) this.hosts.noteWarm(host.hostId, warmKey, reply.warmLeft);
    try {
      // On the fold read before the claim (RecordClaim always decides an event, and its append
      // names the version that fold had): one read of the log fewer.
      const recorded = await this.decide(req.sandboxId, { ...command, elapsedMs: reply.elapsedMs } as SandboxCommand, req.meta, 'claimed', { justRead: true });
      log.info({ hostMs: reply.elapsedMs, totalMs: Math.round(performance.now() - started) }, 'sandbox running (warm claim)');
      return { sandboxId: req.sandboxId, seq: recorded.seq };
    } catch (error) {
      throw await this.claimFailed(req, host.hostId, error, false);
    }
  }

  /**
   * A warm claim that failed, or whose event could not be recorded: the host is told to drop
   * what it may hold (idempotent, behind the claim in the sandbox's queue there) and the
   * reservation is given back. Nothing of the sandbox is on the log.
   */
  private async claimFailed(req: CreateSandboxRequest, hostId: string, error: unknown, onHost: boolean): Promise<unknown> {
    this.log.warn({ sandboxId: req.sandboxId, hostId, err: error }, onHost ? 'warm claim on host failed' : 'warm claim not recorded');
    await this.hostClient
      .send(hostId, HostOp.Destroy, { commandId: req.meta.commandId, sandboxId: req.sandboxId }, this.config.hostCommandTimeoutMs)
      .catch((e: unknown) => this.log.warn({ sandboxId: req.sandboxId, hostId, err: e }, 'claimed sandbox not destroyed; the reconciler removes it as an orphan'));
    await this.quotas.follow({ type: 'Release', sandboxId: req.sandboxId, reason: 'warm claim failed' }, req.meta, 'claim-failed');
    if (!onHost) return error;
    return new WrennError(hostFailureCode(error), `sandbox could not be started: ${(error as Error).message}`, { sandbox_id: req.sandboxId });
  }

  /**
   * No host took the sandbox: it fails, and the caller learns why. When live hosts were there but
   * full, 503 host_full says of what (details.resource); with none live, 503 no_host_available.
   */
  private async unplaced(req: CreateSandboxRequest, templateHost: string | undefined, full: FullHost[]): Promise<WrennError> {
    // After a host refused, the sandbox is starting: a destroy that landed since is not failed under it.
    const fail = (reason: string) =>
      this.decide(req.sandboxId, { type: 'MarkFailed', reason, onlyFrom: [SandboxStatus.Pending, SandboxStatus.Starting] }, req.meta, 'fail').catch(async (refused: unknown) => {
        if (!(refused instanceof WrennError && refused.code === ErrorCode.InvalidState)) throw refused;
        return { seq: (await this.sandboxes.state(req.sandboxId)).version };
      });
    if (full.length === 0) {
      const reason = templateHost ? `host ${templateHost} holding the template is not live` : 'no live host';
      const failed = await fail(reason);
      return new WrennError(ErrorCode.NoHostAvailable, templateHost ? `the host holding template "${req.template}" is not live` : 'no live host can take this sandbox', {
        sandbox_id: req.sandboxId,
        seq: failed.seq,
      });
    }
    // Memory is the hard limit, so it is what the caller is told about when any host lacked it.
    const resource = full.some((f) => f.resource === 'memory') ? 'memory' : 'sandboxes';
    const reason = `every host is full: ${full.map((f) => f.reason).join('; ')}`;
    const failed = await fail(reason);
    return new WrennError(ErrorCode.HostFull, `${templateHost ? `the host holding template "${req.template}" is full` : 'no host has room for this sandbox'} (${reason})`, {
      sandbox_id: req.sandboxId,
      seq: failed.seq,
      resource,
      hosts: full.map((f) => ({ host_id: f.hostId, resource: f.resource })),
    });
  }

  /** A create the host failed or did not answer: the sandbox fails, and the host is told to drop whatever it made. */
  private async createFailed(req: CreateSandboxRequest, hostId: string, error: unknown): Promise<WrennError> {
    const reason = (error as Error).message;
    this.log.warn({ sandboxId: req.sandboxId, hostId, err: error }, 'create on host failed');
    // A destroy that landed meanwhile owns the outcome: failing the sandbox under it would
    // turn the user's destroy into a 409 and leave the sandbox failed, not deleted.
    const failed = await this.decide(
      req.sandboxId,
      { type: 'MarkFailed', reason: `create on host ${hostId} failed: ${reason}`, onlyFrom: [SandboxStatus.Starting] },
      req.meta,
      'fail',
    ).catch(async (refused: unknown) => {
      if (!(refused instanceof WrennError && refused.code === ErrorCode.InvalidState)) throw refused;
      return { seq: (await this.sandboxes.state(req.sandboxId)).version };
    });
    // The agent rolls back its own partial work; a destroy covers a create that finished
    // after we stopped waiting. It is idempotent, so sending it blind is safe.
    void this.hostClient
      .send(hostId, HostOp.Destroy, { commandId: req.meta.commandId, sandboxId: req.sandboxId }, this.config.hostCommandTimeoutMs)
      .catch(() => undefined);
    return new WrennError(hostFailureCode(error), `sandbox could not be started: ${reason}`, { sandbox_id: req.sandboxId, seq: failed.seq });
  }

  /**
   * Delete answers once the sandbox is `deleting` (sandbox.stop_requested on the log); its host
   * tears it down in the background and the sandbox becomes `deleted` when the host has finished.
   * A delete of a sandbox already deleting is the same delete: it answers again and, if this
   * scheduler is not already finishing it (a restart, or the reaper's re-drive), finishes it.
   */
  async destroy(req: DestroySandboxRequest): Promise<CommandAccepted> {
    const { state, version } = await this.sandboxes.state(req.sandboxId);
    if (state.status === 'initial' || state.teamId !== req.meta.teamId) {
      throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${req.sandboxId} not found`);
    }
    let seq = version;
    if (state.status !== SandboxStatus.Deleting) {
      seq = (await this.decide(req.sandboxId, { type: 'RequestStop' }, req.meta, 'stop')).seq;
    }
    // A lost host is gone and a pending sandbox never reached one: nothing to tear down there.
    // Nor on a host that is down now: it would not answer, and the delete would end `failed`
    // (a paused or failed sandbox never becomes lost, so no delete of it could ever finish).
    // What it still holds there, snapshot included, the reconciler destroys when it returns,
    // since the log then calls it deleted.
    const beat = state.hostId ? this.hosts.get(state.hostId) : undefined;
    const reachable = beat !== undefined && isLive(beat);
    const hostId = state.status === SandboxStatus.Lost || state.status === SandboxStatus.Pending || !reachable ? null : state.hostId;
    if (hostId === null) {
      const deleted = await this.decide(req.sandboxId, { type: 'MarkStopped' }, req.meta, 'stopped');
      return { sandboxId: req.sandboxId, seq: deleted.seq };
    }
    if (!this.deletes.has(req.sandboxId)) {
      const finishing = this.finishDelete(req, hostId)
        .catch((error: unknown) => this.log.error({ sandboxId: req.sandboxId, hostId, err: error }, 'delete not finished; the reaper re-drives it'))
        .finally(() => this.deletes.delete(req.sandboxId));
      this.deletes.set(req.sandboxId, finishing);
    }
    return { sandboxId: req.sandboxId, seq };
  }

  /** Deletes being finished by this scheduler, by sandbox: one host destroy at a time each. */
  private readonly deletes = new Map<string, Promise<void>>();

  /** Resolves when every delete this scheduler is finishing has settled (tests, shutdown). */
  async settleDeletes(): Promise<void> {
    while (this.deletes.size > 0) await Promise.allSettled([...this.deletes.values()]);
  }

  /**
   * A stopping scheduler lets the deletes it accepted finish (a bounded wait): one cut short
   * stays `deleting` on the log and the reaper re-drives it, but a platform stopped right after
   * a delete should not leave that sandbox on its host until the next start.
   */
  async onModuleDestroy(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((r) => (timer = setTimeout(r, SHUTDOWN_DELETE_WAIT_MS)));
    await Promise.race([this.settleDeletes(), limit]);
    clearTimeout(timer);
  }

  /**
   * The host half of a delete. The host's destroy is idempotent, so an agent that restarted
   * mid-delete (no answer, or none in time) is asked again once it is back; while it stays away
   * the sandbox stays `deleting`, which the reaper re-drives. A host that ran the destroy and
   * failed it ends the sandbox `failed`, as a synchronous delete did.
   */
  private async finishDelete(req: DestroySandboxRequest, hostId: string): Promise<void> {
    const log = this.log.child({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId });
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.hostClient.send(hostId, HostOp.Destroy, { commandId: req.meta.commandId, sandboxId: req.sandboxId }, this.config.hostCommandTimeoutMs);
        break;
      } catch (error) {
        const away = error instanceof WrennError && (error.code === ErrorCode.HostUnavailable || error.code === ErrorCode.HostTimeout);
        if (away && attempt < DELETE_RETRIES.length) {
          log.warn({ hostId, attempt, err: error }, 'host did not take the destroy; asking again');
          await new Promise((r) => setTimeout(r, DELETE_RETRIES[attempt]));
          continue;
        }
        if (away) throw error;
        const reason = `destroy on host ${hostId} failed: ${(error as Error).message}`;
        await this.decide(req.sandboxId, { type: 'MarkFailed', reason, onlyFrom: [SandboxStatus.Deleting] }, req.meta, 'fail');
        log.warn({ hostId, err: error }, 'delete failed on its host');
        return;
      }
    }
    await this.decide(req.sandboxId, { type: 'MarkStopped' }, req.meta, 'stopped').catch(async (error: unknown) => {
      // Another delete of the same sandbox (a re-drive racing this one) finished it first.
      if (error instanceof WrennError && error.code === ErrorCode.InvalidState && (await this.statusOf(req.sandboxId)) === SandboxStatus.Deleted) return;
      throw error;
    });
    log.info({ hostId, totalMs: Math.round(performance.now() - started) }, 'sandbox deleted');
  }

  private async existing(sandboxId: string, teamId: string): Promise<Exclude<SandboxState, { status: 'initial' }>> {
    const { state } = await this.sandboxes.state(sandboxId);
    if (state.status === 'initial' || state.teamId !== teamId) {
      throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${sandboxId} not found`);
    }
    return state;
  }

  /** The live heartbeat of a host, or 503 host_unavailable: nothing is decided for a dead host. */
  private liveHost(hostId: string | null, what: string) {
    return requireLive(hostId ? this.hosts.get(hostId) : undefined, hostId, what);
  }

  /**
   * Pause: the host snapshots the sandbox's files and frees everything else it held. A failed
   * pause leaves the sandbox running (the host thaws it); the error carries the host's code in
   * details.host_code so the TTL reaper can tell "already gone" from other failures.
   */
  async pause(req: PauseSandboxRequest): Promise<CommandAccepted> {
    const log = this.log.child({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId });
    const started = performance.now();
    const state = await this.existing(req.sandboxId, req.meta.teamId);
    // A re-drive finishes the pause it saw under way; one that settled meanwhile (the sandbox may
    // even have been resumed since) is not started afresh: the sandbox was not idle, only the look.
    if (req.redrive === true && state.status !== SandboxStatus.Pausing) {
      throw new WrennError(ErrorCode.InvalidState, `the pause of sandbox ${req.sandboxId} is no longer under way (it is ${state.status})`, { state: state.status });
    }
    const redrive = req.redrive === true;
    if (state.status === SandboxStatus.Running || redrive) this.liveHost(state.hostId, 'runs the sandbox');
    if (!redrive) {
      if (state.status === SandboxStatus.Running) {
        await this.quotas.reserve({ type: 'ReservePause', sandboxId: req.sandboxId, at: Date.now(), limits: this.quotas.limits(state.teamId) }, req.meta, 'pause', this.statusOf);
      }
      const requested = await this.decide(req.sandboxId, { type: 'RequestPause', reason: req.reason }, req.meta, 'pause').catch(async (error: unknown) => {
        await this.quotas.follow({ type: 'UndoPause', sandboxId: req.sandboxId }, req.meta, 'pause-refused');
        throw error;
      });
      if (requested.state.status !== SandboxStatus.Pausing) return { sandboxId: req.sandboxId, seq: requested.seq };
    }
    const hostId = state.hostId!;
    let paused: PausedOnHost;
    try {
      paused = await this.hostClient.send(hostId, HostOp.Pause, { commandId: req.meta.commandId, sandboxId: req.sandboxId }, this.config.hostCommandTimeoutMs);
    } catch (error) {
      const reason = `pause on host ${hostId} failed: ${(error as Error).message}`;
      log.warn({ hostId, err: error }, 'pause on host failed');
      const failed = await this.decide(req.sandboxId, { type: 'MarkPauseFailed', reason }, req.meta, 'pause-failed');
      throw new WrennError(hostFailureCode(error), reason, {
        sandbox_id: req.sandboxId,
        seq: failed.seq,
        host_code: error instanceof WrennError ? error.code : null,
      });
    }
    const done = await this.decide(req.sandboxId, { type: 'MarkPaused', snapshotRef: paused.snapshotRef, sizeBytes: paused.sizeBytes }, req.meta, 'paused');
    log.info({ hostId, hostMs: paused.elapsedMs, sizeBytes: paused.sizeBytes, reason: req.reason, totalMs: Math.round(performance.now() - started) }, 'sandbox paused');
    return { sandboxId: req.sandboxId, seq: done.seq };
  }

  /**
   * Resume on the host that holds the snapshot. A host that is not live answers 503 and changes
   * nothing; a failed resume leaves the sandbox paused, so the caller can retry.
   */
  async resume(req: ResumeSandboxRequest): Promise<CommandAccepted> {
    const log = this.log.child({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId });
    const started = performance.now();
    const state = await this.existing(req.sandboxId, req.meta.teamId);
    const redrive = req.redrive === true && state.status === SandboxStatus.Resuming;
    if (state.status !== SandboxStatus.Paused && !redrive) {
      // The decider words the refusal (invalid_state with the current state).
      const again = await this.decide(req.sandboxId, { type: 'RequestResume', hostId: state.hostId ?? '', bootId: '' }, req.meta, 'resume');
      return { sandboxId: req.sandboxId, seq: again.seq };
    }
    const host = this.liveHost(state.hostId, 'holds the snapshot');
    if (!redrive) {
      await this.quotas.reserve({ type: 'ReserveResume', sandboxId: req.sandboxId, vcpus: state.vcpus, memoryMb: state.memoryMb, at: Date.now(), limits: this.quotas.limits(state.teamId) }, req.meta, 'resume', this.statusOf);
      await this.decide(req.sandboxId, { type: 'RequestResume', hostId: host.hostId, bootId: host.bootId }, req.meta, 'resume').catch(async (error: unknown) => {
        await this.quotas.follow({ type: 'UndoResume', sandboxId: req.sandboxId }, req.meta, 'resume-refused');
        throw error;
      });
    }
    let resumed: ResumedOnHost;
    try {
      resumed = await this.hostClient.send(host.hostId, HostOp.Resume, { commandId: req.meta.commandId, spec: hostSpec(state), snapshotRef: state.snapshotRef ?? '' }, this.config.hostCreateTimeoutMs);
    } catch (error) {
      const reason = `resume on host ${host.hostId} failed: ${(error as Error).message}`;
      log.warn({ hostId: host.hostId, err: error }, 'resume on host failed');
      const failed = await this.decide(req.sandboxId, { type: 'MarkResumeFailed', reason }, req.meta, 'resume-failed');
      throw new WrennError(hostFailureCode(error), reason, { sandbox_id: req.sandboxId, seq: failed.seq });
    }
    const done = await this.decide(req.sandboxId, { type: 'MarkResumed', hostId: host.hostId }, req.meta, 'resumed');
    log.info({ hostId: host.hostId, hostMs: resumed.elapsedMs, totalMs: Math.round(performance.now() - started) }, 'sandbox resumed');
    return { sandboxId: req.sandboxId, seq: done.seq };
  }

  /**
   * A new inactivity timeout. No host work: the reaper reads the timeout from the read model, so
   * the event is the whole change. Setting the one it already has records nothing.
   */
  async setTimeout(req: SetSandboxTimeoutRequest): Promise<CommandAccepted> {
    const before = await this.existing(req.sandboxId, req.meta.teamId);
    const result = await this.decide(req.sandboxId, { type: 'SetTimeout', timeoutSec: req.timeoutSec }, req.meta, 'timeout');
    if (result.events.length > 0 && !result.duplicate) {
      this.log.info({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId, from: before.timeoutSec, to: req.timeoutSec }, 'sandbox timeout changed');
    }
    return { sandboxId: req.sandboxId, seq: result.seq };
  }

  /**
   * A new egress policy, whole. A running sandbox's host applies it first (one transaction
   * there), and only then is it recorded: a host that cannot apply it leaves the log and the
   * sandbox as they were. A paused sandbox's is recorded and applied by its resume. The same
   * policy again records nothing and sends nothing.
   */
  async setNetwork(req: SetSandboxNetworkRequest): Promise<CommandAccepted> {
    const before = await this.existing(req.sandboxId, req.meta.teamId);
    const network = requireNetworkPolicy(req.network ?? {});
    if (before.status === SandboxStatus.Running && !samePolicy(network, before.network)) {
      const host = this.liveHost(before.hostId, 'runs the sandbox');
      try {
        await this.hostClient.send(host.hostId, HostOp.SetNetwork, { commandId: req.meta.commandId, sandboxId: req.sandboxId, network }, this.config.hostCommandTimeoutMs);
      } catch (error) {
        throw new WrennError(hostFailureCode(error), `network policy change on host ${host.hostId} failed: ${(error as Error).message}`, { sandbox_id: req.sandboxId });
      }
    }
    const result = await this.decide(req.sandboxId, { type: 'SetNetwork', network }, req.meta, 'network');
    if (result.events.length > 0 && !result.duplicate) {
      this.log.info({ sandboxId: req.sandboxId, correlationId: req.meta.correlationId, network }, 'sandbox network policy changed');
    }
    return { sandboxId: req.sandboxId, seq: result.seq };
  }

  /** The caller's team's quota limits and what it uses now (GET /v1/quotas). */
  quotaFigures(teamId: string) {
    return this.quotas.figures(teamId);
  }

  /** Used by the reaper when a host's heartbeat stopped for longer than its lease. */
  async markLost(req: MarkLostRequest): Promise<CommandAccepted> {
    const result = await this.decide(req.sandboxId, { type: 'MarkLost', hostId: req.hostId, reason: req.reason }, req.meta, 'lost');
    return { sandboxId: req.sandboxId, seq: result.seq };
  }

  /**
   * Used by the reaper: fail a sandbox whose create died with its agent, or that vanished from
   * its host. The reaper judged it from a read of a moment ago, so only the states it fails
   * qualify: a pause or destroy begun since empties the host's list too, and failing it would
   * turn the user's pause into a failure (whose snapshot is then an orphan) or their destroy
   * into a 409.
   */
  async fail(sandboxId: string, reason: string, meta: CommandMeta, whileIn?: FailSandboxRequest['whileIn']): Promise<CommandAccepted> {
    const onlyFrom = whileIn ? [whileIn] : [SandboxStatus.Pending, SandboxStatus.Starting, SandboxStatus.Running];
    const result = await this.decide(sandboxId, { type: 'MarkFailed', reason, onlyFrom }, meta, 'fail');
    return { sandboxId, seq: result.seq };
  }
}

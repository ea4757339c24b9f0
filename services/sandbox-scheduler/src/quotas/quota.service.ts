import { Inject, Injectable } from '@nestjs/common';
import { Aggregate, CommandMeta, ErrorCode, QuotasResult, stepMetadata, WrennError } from '@wrenn/contracts';
import { teamQuotaLimits, WrennConfig } from '@wrenn/config';
import { QuotaCommand, quotaDecider, quotaDenial, QuotaEvent, QuotaState, quotaUsage, SandboxStatus } from '@wrenn/domain';
import { CommandHandler, EventMetadata, EventStore } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { CONFIG, EVENT_STORE, LOGGER } from '@wrenn/service-kit';

/** What the quota needs to know about a sandbox to tell a stale holding: its status on the log. */
export type SandboxStatusReader = (sandboxId: string) => Promise<SandboxStatus | 'initial'>;

/** Sandbox states that hold no host resources and never will again. */
const ENDED: readonly string[] = [SandboxStatus.Deleted, SandboxStatus.Failed, SandboxStatus.Lost];

/** A reservation whose sandbox never reached the log this long after is a crash's leftover. */
const ORPHAN_AFTER_MS = 120_000;

/**
 * The Team quota aggregate driven from the scheduler: reservations are decided on the team's own
 * quota stream with an expected-sequence append (CommandHandler), so any number of schedulers
 * agree on the last slot, and a replay of the log rebuilds exactly the holdings they decided on.
 */
@Injectable()
export class QuotaService {
  private readonly handler: CommandHandler<QuotaCommand, QuotaEvent, QuotaState>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    // Many sandboxes of one team race on one stream: more attempts than a single sandbox needs.
    this.handler = new CommandHandler(store, Aggregate.Quota, quotaDecider, { maxAttempts: 12, backoffMs: 5 });
  }

  limits(teamId: string) {
    return teamQuotaLimits(this.config.quotas, teamId);
  }

  async figures(teamId: string, now = Date.now()): Promise<QuotasResult> {
    const { state } = await this.handler.state(teamId);
    return { limits: this.limits(teamId), usage: quotaUsage(state, now) };
  }

  /**
   * Reserves for a create, a resume or a pause, or throws 429 quota_exceeded with the limit that
   * was hit. The refusal is an event on the team's quota stream (the audit trail shows it).
   * Before refusing, holdings whose sandbox has ended on the log are released: a scheduler that
   * died between a sandbox's end and its release must not cost the team capacity for good.
   */
  async reserve(command: QuotaCommand, meta: CommandMeta, step: string, statusOf: SandboxStatusReader): Promise<void> {
    const teamId = meta.teamId;
    const { state } = await this.handler.state(teamId);
    if (quotaDenial(quotaDecider.decide(command, state))) await this.releaseStale(state, meta, statusOf);
    // A create's reservation decides an event whatever the fold says of a sandbox nobody else
    // knows yet, so the fold just read is decided on without reading the version again (the
    // append still refuses it if the team's quota moved meanwhile).
    const result = await this.handler.handle(teamId, command, this.meta(meta, step), { justRead: command.type === 'ReserveCreate' });
    const denial = quotaDenial(result.events.map((e) => ({ type: e.type, data: e.data })));
    if (!denial) return;
    this.log.info({ teamId, correlationId: meta.correlationId, ...denial }, 'quota exceeded');
    throw new WrennError(ErrorCode.QuotaExceeded, `team quota exceeded: ${denial.limit} (${denial.current} of ${denial.max} in use)`, {
      limit: denial.limit,
      max: denial.max,
      current: denial.current,
      operation: denial.operation,
    });
  }

  /**
   * A change that follows the sandbox's lifecycle (release, settle, undo). It never fails the
   * sandbox's own operation: a lost update is healed the next time the team is near a limit.
   */
  async follow(command: QuotaCommand, meta: CommandMeta, step: string): Promise<void> {
    await this.handler.handle(meta.teamId, command, this.meta(meta, step)).catch((error: unknown) => {
      this.log.warn({ err: error, teamId: meta.teamId, sandboxId: command.sandboxId, command: command.type }, 'quota update failed; healed at the next refusal');
    });
  }

  private async releaseStale(state: QuotaState, meta: CommandMeta, statusOf: SandboxStatusReader): Promise<void> {
    const now = Date.now();
    for (const [sandboxId, held] of state.sandboxes) {
      const status = await statusOf(sandboxId);
      const stale = ENDED.includes(status) || (status === 'initial' && now - held.at > ORPHAN_AFTER_MS);
      if (!stale) continue;
      this.log.info({ teamId: meta.teamId, sandboxId, status }, 'quota: releasing the holding of an ended sandbox');
      await this.handler.handle(meta.teamId, { type: 'Release', sandboxId, reason: `healed: sandbox is ${status}` }, { ...this.meta(meta, `heal-${sandboxId}`) });
    }
  }

  private meta(meta: CommandMeta, step: string): EventMetadata {
    return stepMetadata(meta, `quota-${step}`);
  }
}

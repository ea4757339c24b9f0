import { Inject, Injectable } from '@nestjs/common';
import {
  Aggregate,
  BUILT_IN_TEMPLATES,
  CommandMeta,
  CreateTemplateRequest,
  DeleteTemplateRequest,
  ErrorCode,
  FailTemplateRequest,
  hostFailureCode,
  HostOp,
  isSandboxId,
  isTemplateName,
  stepMetadata,
  TEMPLATE_NAME_RULE,
  TemplateAccepted,
  TemplateCreatedOnHost,
  WrennError,
} from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import {
  SandboxCommand,
  SandboxEvent,
  sandboxDecider,
  SandboxState,
  SandboxStatus,
  TemplateCommand,
  templateDecider,
  TemplateEvent,
  TemplateState,
  TemplateStatus,
} from '@wrenn/domain';
import { CommandHandler, EventStore, HandleResult } from '@wrenn/eventlog';
import type { Logger } from '@wrenn/logger';
import { HostClient, HostHeartbeats } from '@wrenn/messaging';
import { CONFIG, EVENT_STORE, LOGGER } from '@wrenn/service-kit';
import { ulid } from 'ulid';
import { CatalogReadsRepository } from '../repositories/catalog-reads.repository';
import { TemplateNamesRepository } from '../repositories/template-names.repository';

/** A name reservation older than this whose template never reached the log was left by a crash. */
const STALE_RESERVATION_MS = 120_000;

/**
 * The Template aggregate's use cases: freeze a running sandbox into a named template on the host
 * that runs it, and delete it when no sandbox uses it. Every step is an event on
 * evt.template.<id>; host work goes to host.<hostId>.template-create / template-delete.
 */
@Injectable()
export class TemplateCatalogService {
  private readonly templates: CommandHandler<TemplateCommand, TemplateEvent, TemplateState>;
  private readonly sandboxes: CommandHandler<SandboxCommand, SandboxEvent, SandboxState>;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly hosts: HostClient,
    private readonly beats: HostHeartbeats,
    private readonly names: TemplateNamesRepository,
    private readonly reads: CatalogReadsRepository,
  ) {
    this.templates = new CommandHandler(store, Aggregate.Template, templateDecider);
    this.sandboxes = new CommandHandler(store, Aggregate.Sandbox, sandboxDecider);
  }

  private decide(id: string, command: TemplateCommand, meta: CommandMeta, step: string): Promise<HandleResult<TemplateState>> {
    return this.templates.handle(id, command, stepMetadata(meta, step));
  }

  async create(req: CreateTemplateRequest): Promise<TemplateAccepted> {
    // Checked at the API already; again here, since nothing but this service writes templates.
    if (!isTemplateName(req.name)) {
      throw new WrennError(ErrorCode.ValidationFailed, `name must be ${TEMPLATE_NAME_RULE}`);
    }
    if (BUILT_IN_TEMPLATES.includes(req.name)) throw new WrennError(ErrorCode.TemplateExists, `"${req.name}" is a built-in template`);
    const sandbox = isSandboxId(req.sandboxId) ? (await this.sandboxes.state(req.sandboxId)).state : { status: 'initial' as const };
    if (sandbox.status === 'initial' || sandbox.teamId !== req.meta.teamId) {
      throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${req.sandboxId} not found`);
    }
    if (sandbox.status !== SandboxStatus.Running || !sandbox.hostId) {
      throw new WrennError(ErrorCode.InvalidState, `sandbox ${req.sandboxId} is ${sandbox.status}; only a running sandbox can become a template`, { state: sandbox.status });
    }
    const hostId = sandbox.hostId;
    await this.beats.requireLive(hostId);

    const templateId = `tpl_${ulid().toLowerCase()}`;
    await this.reserve(req.meta.teamId, req.name, templateId);
    const log = this.log.child({ templateId, sandboxId: req.sandboxId, hostId, correlationId: req.meta.correlationId });
    try {
      await this.decide(
        templateId,
        { type: 'RequestTemplate', templateId, teamId: req.meta.teamId, name: req.name, sandboxId: req.sandboxId, hostId, vcpus: sandbox.vcpus, memoryMb: sandbox.memoryMb },
        req.meta,
        'request',
      );
    } catch (error) {
      await this.names.release(req.meta.teamId, req.name, templateId);
      throw error;
    }

    let created: TemplateCreatedOnHost;
    try {
      created = await this.hosts.send(hostId, HostOp.CreateTemplate, { commandId: req.meta.commandId, sandboxId: req.sandboxId, templateId, templateName: req.name }, this.config.hostCreateTimeoutMs);
    } catch (error) {
      const reason = `template on host ${hostId} failed: ${(error as Error).message}`;
      log.warn({ err: error }, 'template create on host failed');
      const failed = await this.decide(templateId, { type: 'MarkTemplateFailed', reason }, req.meta, 'fail');
      await this.names.release(req.meta.teamId, req.name, templateId);
      // Whatever the host made before it failed goes; deleting a template that is not there is fine.
      void this.hosts
        .send(hostId, HostOp.DeleteTemplate, { commandId: req.meta.commandId, templateId, templateName: req.name }, this.config.hostCommandTimeoutMs)
        .catch(() => undefined);
      throw new WrennError(hostFailureCode(error), reason, { template_id: templateId, seq: failed.seq });
    }
    const ready = await this.decide(templateId, { type: 'MarkTemplateCreated', sizeBytes: created.sizeBytes, elapsedMs: created.elapsedMs }, req.meta, 'created');
    log.info({ sizeBytes: created.sizeBytes, hostMs: created.elapsedMs }, 'template ready');
    return { templateId, seq: ready.seq };
  }

  /** Takes the team's name, or 409 template_exists; a name held by a dead template is taken over. */
  private async reserve(teamId: string, name: string, templateId: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.names.take(teamId, name, templateId)) return;
      const holder = await this.names.holder(teamId, name);
      if (!holder) continue; // freed in between: try again
      const { state } = await this.templates.state(holder.templateId);
      const dead =
        state.status === TemplateStatus.Failed ||
        state.status === TemplateStatus.Deleted ||
        (state.status === 'initial' && Date.now() - holder.takenAt > STALE_RESERVATION_MS);
      if (!dead) throw new WrennError(ErrorCode.TemplateExists, `template "${name}" already exists`);
      if (await this.names.takeOver(teamId, name, templateId, holder.revision)) return;
    }
    throw new WrennError(ErrorCode.TemplateExists, `template "${name}" already exists`);
  }

  /**
   * Fails a template left `creating` by a catalog that died mid-way (the reaper decides when):
   * its name is freed and whatever the host made is removed. A template that settled meanwhile
   * is left as it is.
   */
  async fail(req: FailTemplateRequest): Promise<TemplateAccepted> {
    const { state, version } = await this.templates.state(req.templateId);
    if (state.status !== TemplateStatus.Creating) return { templateId: req.templateId, seq: version };
    const failed = await this.decide(req.templateId, { type: 'MarkTemplateFailed', reason: req.reason }, req.meta, 'fail');
    await this.names.release(state.teamId, state.name, req.templateId);
    void this.hosts
      .send(state.hostId, HostOp.DeleteTemplate, { commandId: req.meta.commandId, templateId: req.templateId, templateName: state.name }, this.config.hostCommandTimeoutMs)
      .catch(() => undefined);
    return { templateId: req.templateId, seq: failed.seq };
  }

  /**
   * Deletes a template no sandbox uses: any sandbox started from it that is not stopped — paused
   * ones included, since resuming needs the template's files — makes it 409 template_in_use.
   */
  async delete(req: DeleteTemplateRequest): Promise<TemplateAccepted> {
    const row = isTemplateName(req.name) ? await this.reads.findLiveByName(req.meta.teamId, req.name) : null;
    if (!row) throw new WrennError(ErrorCode.TemplateNotFound, `template "${req.name}" not found`);
    const { state } = await this.templates.state(row.id);
    if (state.status === 'initial' || state.status === TemplateStatus.Deleted || state.teamId !== req.meta.teamId) {
      throw new WrennError(ErrorCode.TemplateNotFound, `template "${req.name}" not found`);
    }
    const users = await this.reads.sandboxesUsing(row.id);
    if (users.length > 0) {
      throw new WrennError(ErrorCode.TemplateInUse, `template "${req.name}" is used by ${users.length} sandbox(es); destroy them first`, { sandbox_ids: users });
    }
    if (state.status === TemplateStatus.Ready) {
      await this.beats.requireLive(state.hostId);
      await this.hosts.send(state.hostId, HostOp.DeleteTemplate, { commandId: req.meta.commandId, templateId: row.id, templateName: state.name }, this.config.hostCommandTimeoutMs);
    }
    const deleted = await this.decide(row.id, { type: 'DeleteTemplate' }, req.meta, 'delete');
    await this.names.release(req.meta.teamId, state.name, row.id);
    this.log.info({ templateId: row.id, hostId: state.hostId }, 'template deleted');
    return { templateId: row.id, seq: deleted.seq };
  }
}

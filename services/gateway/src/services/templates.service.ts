import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import {
  CatalogCommand,
  CreateTemplateRequest,
  DeleteTemplateRequest,
  ErrorCode,
  isTemplateName,
  Naming,
  ServiceName,
  TemplateAccepted,
  WrennError,
} from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { TemplateRow } from '@wrenn/db';
import { TEMPLATE_PROJECTION } from '@wrenn/projections';
import { CONFIG, NAMING } from '@wrenn/service-kit';
import { randomUUID } from 'node:crypto';
import { CreateTemplateDto, TemplateView, TEMPLATE_NAME_MESSAGE } from '../dtos/template.dto';
import { commandMeta, ReadYourWrites } from './read-your-writes';
import { TemplateRepository } from '../repositories/template.repository';
import type { Caller } from '../auth/caller';

export const CATALOG_CLIENT = 'wrenn.catalog-client';

export function toTemplateView(row: TemplateRow): TemplateView {
  return {
    id: row.id,
    name: row.name,
    // The read model keeps the state as text; the projection writes only the domain's states.
    state: row.state as TemplateView['state'],
    sandbox_id: row.sourceSandboxId,
    host_id: row.hostId,
    vcpus: row.vcpus,
    memory_mb: row.memoryMb,
    size_bytes: row.sizeBytes === null ? null : Number(row.sizeBytes),
    created_at: row.createdAt.toISOString(),
  };
}

/** Templates as the REST API sees them: commands to the snapshot catalog, reads from `templates`. */
@Injectable()
export class TemplatesService implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(CATALOG_CLIENT) private readonly catalog: ClientProxy,
    @Inject(NAMING) private readonly naming: Naming,
    @Inject(CONFIG) private readonly config: WrennConfig,
    private readonly templates: TemplateRepository,
    private readonly writes: ReadYourWrites,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.catalog.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.catalog.close();
  }

  /** Runs a catalog command; answers once the templates read model shows its outcome. */
  private command(command: CatalogCommand, payload: unknown, timeoutMs: number): Promise<TemplateAccepted> {
    return this.writes.send<TemplateAccepted>(this.catalog, this.naming.commandSubject(ServiceName.SnapshotCatalog, command), payload, {
      timeoutMs,
      service: 'the snapshot catalog',
      projection: TEMPLATE_PROJECTION,
    });
  }

  async create(caller: Caller, dto: CreateTemplateDto, correlationId: string = randomUUID()): Promise<TemplateView> {
    const payload: CreateTemplateRequest = { meta: commandMeta(caller, correlationId), sandboxId: dto.sandbox_id, name: dto.name };
    const accepted = await this.command(CatalogCommand.CreateTemplate, payload, this.config.hostCreateTimeoutMs + 10_000);
    const row = await this.templates.findById(caller.teamId, accepted.templateId);
    if (!row) throw new WrennError(ErrorCode.Internal, `template ${accepted.templateId} is missing from the read model`);
    return toTemplateView(row);
  }

  async list(caller: Caller): Promise<TemplateView[]> {
    return (await this.templates.listForTeam(caller.teamId)).map(toTemplateView);
  }

  async delete(caller: Caller, name: string, correlationId: string = randomUUID()): Promise<TemplateView> {
    if (!isTemplateName(name)) throw new WrennError(ErrorCode.ValidationFailed, TEMPLATE_NAME_MESSAGE, { fields: [{ field: 'name', problems: [TEMPLATE_NAME_MESSAGE] }] });
    const payload: DeleteTemplateRequest = { meta: commandMeta(caller, correlationId), name };
    const accepted = await this.command(CatalogCommand.DeleteTemplate, payload, this.config.hostCommandTimeoutMs + 10_000);
    const row = await this.templates.findById(caller.teamId, accepted.templateId);
    if (!row) throw new WrennError(ErrorCode.Internal, `template ${accepted.templateId} is missing from the read model`);
    return toTemplateView(row);
  }
}

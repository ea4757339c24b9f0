import { Inject, Injectable } from '@nestjs/common';
import { BUILT_IN_TEMPLATES, ErrorCode, WrennError } from '@wrenn/contracts';
import { TemplateRow } from '@wrenn/db';
import { DATA_SOURCE } from '@wrenn/service-kit';
import { DataSource } from 'typeorm';

/** A built-in image's size when the create names none. */
export const DEFAULT_VCPUS = 1;
export const DEFAULT_MEMORY_MB = 512;

/** What a create starts from: its size, and for a frozen template its id and the one host holding its files. */
export interface SandboxSource {
  vcpus: number;
  memoryMb: number;
  template?: { id: string; hostId: string };
}

/**
 * The scheduler's read of the templates read model, and the one place the size rule lives: a
 * frozen template locks vcpus and memory to its own (omitted means the template's, another
 * value is 400: a frozen state cannot be resized); built-in images default to 1 vCPU, 512 MB.
 */
@Injectable()
export class TemplateLookup {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  async sourceFor(teamId: string, wanted: { template: string; vcpus?: number; memoryMb?: number }): Promise<SandboxSource> {
    if (BUILT_IN_TEMPLATES.includes(wanted.template)) return { vcpus: wanted.vcpus ?? DEFAULT_VCPUS, memoryMb: wanted.memoryMb ?? DEFAULT_MEMORY_MB };
    const row = await this.ds.getRepository(TemplateRow).findOne({ where: { teamId, name: wanted.template, state: 'ready' } });
    if (!row) throw new WrennError(ErrorCode.TemplateNotFound, `template "${wanted.template}" not found`);
    // Field names as the API spells them: the gateway answers these details as they are.
    const mismatch = [
      ...(wanted.vcpus !== undefined && wanted.vcpus !== row.vcpus ? [{ field: 'vcpus', problems: [`template "${row.name}" is locked to ${row.vcpus} vcpus`] }] : []),
      ...(wanted.memoryMb !== undefined && wanted.memoryMb !== row.memoryMb ? [{ field: 'memory_mb', problems: [`template "${row.name}" is locked to ${row.memoryMb} MB`] }] : []),
    ];
    if (mismatch.length > 0) throw new WrennError(ErrorCode.ValidationFailed, mismatch.map((m) => m.problems[0]).join('; '), { fields: mismatch });
    return { vcpus: row.vcpus, memoryMb: row.memoryMb, template: { id: row.id, hostId: row.hostId } };
  }
}

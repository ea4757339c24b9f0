import { Inject, Injectable } from '@nestjs/common';
import { Naming } from '@wrenn/contracts';
import { NAMING, NATS } from '@wrenn/service-kit';
import { KV, NatsConnection } from 'nats';

export interface NameHolder {
  templateId: string;
  revision: number;
  /** Unix ms the name was taken. */
  takenAt: number;
}

/**
 * Names taken per team, in a KV bucket (key `<teamId>.<name>` → template id). The read model
 * trails the log, so two concurrent creates could both see a name free there; the bucket's
 * compare-and-set makes exactly one of them win, on every catalog replica.
 */
@Injectable()
export class TemplateNamesRepository {
  private kv: Promise<KV> | undefined;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(NAMING) private readonly naming: Naming,
  ) {}

  private bucket(): Promise<KV> {
    this.kv ??= this.nc.jetstream().views.kv(this.naming.templateNamesBucket, { history: 1 });
    return this.kv;
  }

  private key(teamId: string, name: string): string {
    return `${teamId}.${name}`;
  }

  /** Takes the name for `templateId`; false when someone holds it. */
  async take(teamId: string, name: string, templateId: string): Promise<boolean> {
    try {
      await (await this.bucket()).create(this.key(teamId, name), templateId);
      return true;
    } catch {
      return false;
    }
  }

  async holder(teamId: string, name: string): Promise<NameHolder | null> {
    const entry = await (await this.bucket()).get(this.key(teamId, name));
    if (!entry || entry.operation !== 'PUT') return null;
    return { templateId: entry.string(), revision: entry.revision, takenAt: entry.created.getTime() };
  }

  /** Takes over a name whose holder is dead (failed, deleted, or never recorded); false on a race. */
  async takeOver(teamId: string, name: string, templateId: string, revision: number): Promise<boolean> {
    try {
      await (await this.bucket()).update(this.key(teamId, name), templateId, revision);
      return true;
    } catch {
      return false;
    }
  }

  /** Frees the name if `templateId` still holds it. */
  async release(teamId: string, name: string, templateId: string): Promise<void> {
    const held = await this.holder(teamId, name);
    if (held?.templateId === templateId) await (await this.bucket()).delete(this.key(teamId, name), { previousSeq: held.revision }).catch(() => undefined);
  }
}

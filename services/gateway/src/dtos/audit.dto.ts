import { Type } from 'class-transformer';
import type { OpenApiComponents as components } from '@wrenn/sdk';
import { IsInt, IsISO8601, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

export class AuditQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit: number = 100;

  /** `next_cursor` of the previous page. */
  @IsOptional() @IsString() @Matches(/^[1-9][0-9]{0,15}$/, { message: 'cursor must be a next_cursor from a previous page' })
  cursor?: string;

  /** Aggregate kind: sandbox, template, team, host, … */
  @IsOptional() @IsString() @Matches(/^[a-z][a-z0-9_]{0,31}$/, { message: 'resource_type must be a lower-case word' })
  resource_type?: string;

  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_-]{1,128}$/, { message: 'resource_id must be an id' })
  resource_id?: string;

  /** Inclusive lower bound on occurred_at. */
  @IsOptional() @IsISO8601({ strict: true })
  from?: string;

  /** Exclusive upper bound on occurred_at. */
  @IsOptional() @IsISO8601({ strict: true })
  to?: string;
}

/** An event's envelope as the API shows it (audit rows and live events alike). */
export interface EventEnvelopeView {
  seq: number;
  type: string;
  version: number;
  resource: { type: string; id: string };
  actor: { kind: string; id: string };
  team_id: string;
  correlation_id: string;
  causation_id: string;
  occurred_at: string;
}

export type AuditEntryView = components['schemas']['AuditEntry'];
/** `next_cursor`: pass as `cursor` for the next (older) page; null on the last page. */
export type AuditPageView = components['schemas']['AuditPage'];

import { IsISO8601, IsOptional } from 'class-validator';
import type { OpenApiComponents as components } from '@wrenn/sdk';

export class UsageQuery {
  /** Start of the window (inclusive); default the start of the current UTC month. */
  @IsOptional() @IsISO8601({ strict: true })
  from?: string;

  /** End of the window (exclusive); default now. */
  @IsOptional() @IsISO8601({ strict: true })
  to?: string;
}

/** Exact integers as decimal strings (they outgrow JSON numbers), plus readable hours. */
export type UsageView = components['schemas']['Usage'];

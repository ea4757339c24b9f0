import { IsISO8601, IsOptional } from 'class-validator';

export class UsageQuery {
  /** Start of the window (inclusive); default the start of the current UTC month. */
  @IsOptional() @IsISO8601({ strict: true })
  from?: string;

  /** End of the window (exclusive); default now. */
  @IsOptional() @IsISO8601({ strict: true })
  to?: string;
}

export interface UsageView {
  team_id: string;
  from: string;
  to: string;
  /** Exact integers as decimal strings (they outgrow JSON numbers), plus readable hours. */
  usage: {
    vcpu_ms: string;
    memory_mib_ms: string;
    storage_byte_ms: string;
    vcpu_hours: string;
    memory_gib_hours: string;
    storage_gib_hours: string;
  };
  prices: {
    currency: 'USD';
    vcpu_hour_micro_usd: number;
    memory_gib_hour_micro_usd: number;
    storage_gib_hour_micro_usd: number;
  };
  cost: {
    currency: 'USD';
    compute_cents: number;
    memory_cents: number;
    storage_cents: number;
    total_cents: number;
  };
}

import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { WrennConfig } from '@wrenn/config';
import { priceUsage, ratio, USAGE_UNITS } from '@wrenn/projections';
import { CONFIG } from '@wrenn/service-kit';
import { UsageQuery, UsageView } from '../dtos/usage.dto';
import { UsageRepository } from '../repositories/usage.repository';
import type { Caller } from '../auth/caller';

/** Source of "now" for usage: the one place a clock enters billing (open intervals only). */
export const USAGE_CLOCK = 'wrenn.usage-clock';

function startOfUtcMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/**
 * A team's usage and its price over a window [from, to). Intervals come clipped to the window;
 * one still open counts up to min(to, now).
 */
@Injectable()
export class UsageService {
  constructor(
    private readonly usage: UsageRepository,
    @Inject(CONFIG) private readonly config: WrennConfig,
    @Inject(USAGE_CLOCK) private readonly now: () => number,
  ) {}

  async totals(caller: Caller, query: UsageQuery): Promise<UsageView> {
    const now = this.now();
    const toMs = query.to !== undefined ? Date.parse(query.to) : now;
    const fromMs = query.from !== undefined ? Date.parse(query.from) : startOfUtcMonth(toMs);
    if (!(fromMs < toMs)) {
      throw new WrennError(ErrorCode.ValidationFailed, 'from must be before to', { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() });
    }
    const totals = await this.usage.totalsForTeam(caller.teamId, { fromMs, toMs, openUntilMs: Math.min(toMs, now) });
    const prices = this.config.prices;
    const cost = priceUsage(totals, prices);
    return {
      team_id: caller.teamId,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      usage: {
        vcpu_ms: totals.vcpuMs.toString(),
        memory_mib_ms: totals.memoryMibMs.toString(),
        storage_byte_ms: totals.storageByteMs.toString(),
        vcpu_hours: ratio(totals.vcpuMs, USAGE_UNITS.HOUR_MS),
        memory_gib_hours: ratio(totals.memoryMibMs, USAGE_UNITS.HOUR_MS * USAGE_UNITS.MIB_PER_GIB),
        storage_gib_hours: ratio(totals.storageByteMs, USAGE_UNITS.HOUR_MS * USAGE_UNITS.BYTES_PER_GIB),
      },
      prices: {
        currency: 'USD',
        vcpu_hour_micro_usd: prices.vcpuHourMicroUsd,
        memory_gib_hour_micro_usd: prices.memoryGibHourMicroUsd,
        storage_gib_hour_micro_usd: prices.storageGibHourMicroUsd,
      },
      cost: {
        currency: 'USD',
        compute_cents: cost.computeCents,
        memory_cents: cost.memoryCents,
        storage_cents: cost.storageCents,
        total_cents: cost.totalCents,
      },
    };
  }
}

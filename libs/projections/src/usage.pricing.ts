/**
 * Usage totals and their price, in integers only: durations in milliseconds, memory in MiB,
 * snapshots in bytes, prices in micro-dollars per unit-hour, so sums never drift and a replay
 * prices to the same cent.
 */
export interface UsageTotals {
  /** Σ running milliseconds × vcpus. */
  vcpuMs: bigint;
  /** Σ running milliseconds × memory MiB. */
  memoryMibMs: bigint;
  /** Σ paused milliseconds × snapshot bytes. */
  storageByteMs: bigint;
}

export interface UsagePrices {
  /** Micro-dollars (1e-6 USD) per vcpu-hour. */
  vcpuHourMicroUsd: number;
  /** Micro-dollars per GiB-hour of memory while running. */
  memoryGibHourMicroUsd: number;
  /** Micro-dollars per GiB-hour of snapshot storage while paused. */
  storageGibHourMicroUsd: number;
}

export interface UsageCost {
  computeCents: number;
  memoryCents: number;
  storageCents: number;
  /** The sum of the three rounded lines, so an invoice adds up. */
  totalCents: number;
}

const HOUR_MS = 3_600_000n;
const MIB_PER_GIB = 1024n;
const BYTES_PER_GIB = 1n << 30n;
const MICRO_USD_PER_CENT = 10_000n;

/** numerator / denominator rounded half up (both non-negative). */
function roundDiv(numerator: bigint, denominator: bigint): bigint {
  return (2n * numerator + denominator) / (2n * denominator);
}

function cents(quantity: bigint, microUsdPerUnitHour: number, unitsPerHourUnit: bigint): number {
  return Number(roundDiv(quantity * BigInt(microUsdPerUnitHour), HOUR_MS * unitsPerHourUnit * MICRO_USD_PER_CENT));
}

export function priceUsage(totals: UsageTotals, prices: UsagePrices): UsageCost {
  const computeCents = cents(totals.vcpuMs, prices.vcpuHourMicroUsd, 1n);
  const memoryCents = cents(totals.memoryMibMs, prices.memoryGibHourMicroUsd, MIB_PER_GIB);
  const storageCents = cents(totals.storageByteMs, prices.storageGibHourMicroUsd, BYTES_PER_GIB);
  return { computeCents, memoryCents, storageCents, totalCents: computeCents + memoryCents + storageCents };
}

/** Exact quotient as a decimal string with `scale` digits (for display of hours and GiB). */
export function ratio(numerator: bigint, denominator: bigint, scale = 6): string {
  const factor = 10n ** BigInt(scale);
  const scaled = roundDiv(numerator * factor, denominator);
  const whole = scaled / factor;
  const frac = (scaled % factor).toString().padStart(scale, '0');
  return scale > 0 ? `${whole}.${frac}` : `${whole}`;
}

export const USAGE_UNITS = { HOUR_MS, MIB_PER_GIB, BYTES_PER_GIB } as const;

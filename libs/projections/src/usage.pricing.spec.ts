import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { priceUsage, ratio } from './usage.pricing';

describe('priceUsage', () => {
  const prices = { vcpuHourMicroUsd: 40_000, memoryGibHourMicroUsd: 4_000, storageGibHourMicroUsd: 100 };

  it('prices a vcpu-hour, a GiB-hour of memory and a GiB-hour of snapshot at the configured rates', () => {
    const hour = 3_600_000n;
    assert.deepEqual(
      priceUsage({ vcpuMs: 10n * hour, memoryMibMs: 1024n * 100n * hour, storageByteMs: (1n << 30n) * 1000n * hour }, prices),
      { computeCents: 40, memoryCents: 40, storageCents: 10, totalCents: 90 },
    );
  });

  it('rounds each line half up to the cent, once, from exact integers', () => {
    // 0.5¢ of compute: 450 vcpu-seconds at $0.04/h.
    assert.equal(priceUsage({ vcpuMs: 450_000n, memoryMibMs: 0n, storageByteMs: 0n }, prices).computeCents, 1);
    assert.equal(priceUsage({ vcpuMs: 449_999n, memoryMibMs: 0n, storageByteMs: 0n }, prices).computeCents, 0);
  });

  it('stays exact far beyond 2^53 (a TiB snapshot kept for a year)', () => {
    const year = 365n * 24n * 3_600_000n;
    const cost = priceUsage({ vcpuMs: 0n, memoryMibMs: 0n, storageByteMs: (1n << 40n) * year }, prices);
    // 1024 GiB × 8760 h × 100 µ$ = 897,024,000 µ$ = 89,702.4¢
    assert.equal(cost.storageCents, 89_702);
  });
});

describe('ratio', () => {
  it('prints an exact quotient with fixed decimals', () => {
    assert.equal(ratio(7n, 2n, 2), '3.50');
    assert.equal(ratio(1n, 3n, 6), '0.333333');
    assert.equal(ratio(2n, 3n, 0), '1');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WrennConfig } from '@wrenn/config';
import { WrennError } from '@wrenn/contracts';
import { UsageRepository } from '../repositories/usage.repository';
import { UsageService } from './usage.service';

const NOW = Date.parse('2026-03-15T12:00:00.000Z');
const caller = { teamId: 'team_a', actor: { kind: 'anonymous' as const, id: 'anonymous' } };

function service() {
  const windows: Array<{ teamId: string; fromMs: number; toMs: number; openUntilMs: number }> = [];
  const repo = {
    async totalsForTeam(teamId: string, w: { fromMs: number; toMs: number; openUntilMs: number }) {
      windows.push({ teamId, ...w });
      return { vcpuMs: 3_600_000n, memoryMibMs: 0n, storageByteMs: 0n };
    },
  } as unknown as UsageRepository;
  const config = { prices: { vcpuHourMicroUsd: 50_000, memoryGibHourMicroUsd: 5_000, storageGibHourMicroUsd: 150 } } as WrennConfig;
  return { sut: new UsageService(repo, config, () => NOW), windows };
}

describe(UsageService.name, () => {
  it('defaults to the current UTC month up to now', async () => {
    const { sut, windows } = service();
    const view = await sut.totals(caller, {});
    assert.equal(view.from, '2026-03-01T00:00:00.000Z');
    assert.equal(view.to, '2026-03-15T12:00:00.000Z');
    assert.deepEqual(windows[0], { teamId: 'team_a', fromMs: Date.parse('2026-03-01T00:00:00Z'), toMs: NOW, openUntilMs: NOW });
    assert.equal(view.cost.compute_cents, 5);
  });

  it('counts open intervals only up to now when the window reaches into the future', async () => {
    const { sut, windows } = service();
    await sut.totals(caller, { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' });
    assert.equal(windows[0].toMs, Date.parse('2026-04-01T00:00:00Z'));
    assert.equal(windows[0].openUntilMs, NOW);
  });

  it('counts open intervals up to the end of a window in the past', async () => {
    const { sut, windows } = service();
    await sut.totals(caller, { from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z' });
    assert.equal(windows[0].openUntilMs, Date.parse('2026-03-01T00:00:00Z'));
  });

  it('rejects an empty or inverted window without reading anything', async () => {
    const { sut, windows } = service();
    await assert.rejects(sut.totals(caller, { from: '2026-03-02T00:00:00Z', to: '2026-03-02T00:00:00Z' }), (e: unknown) => e instanceof WrennError && e.code === 'validation_failed');
    await assert.rejects(sut.totals(caller, { from: '2026-04-01T00:00:00Z' }), WrennError);
    assert.equal(windows.length, 0);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fold } from '../decider';
import { specFor } from '@wrenn/domain-test-support';
import { QuotaCommand } from './quota.commands';
import { quotaDecider } from './quota.decider';
import { QuotaEvent, QuotaEventType as T, QuotaLimits } from './quota.events';
import { quotaUsage } from './quota.state';

const spec = specFor(quotaDecider);
const limits: QuotaLimits = { runningSandboxes: 2, vcpus: 4, memoryMb: 2048, pausedSandboxes: 1, snapshotBytes: 1000, createsPerMinute: 3 };
const create = (sandboxId: string, at = 1_000, extra: Partial<{ vcpus: number; memoryMb: number }> = {}): QuotaCommand =>
  ({ type: 'ReserveCreate', sandboxId, vcpus: 1, memoryMb: 512, at, limits, ...extra });
const reserved = (sandboxId: string, at = 1_000, extra: Partial<{ vcpus: number; memoryMb: number }> = {}): QuotaEvent =>
  ({ type: T.Reserved, data: { sandboxId, operation: 'create', vcpus: 1, memoryMb: 512, ...extra, at, limits } } as QuotaEvent);

describe('quotaDecider', () => {
  it('reserves a create within every limit', () => {
    spec([]).when(create('sb_1')).then([reserved('sb_1')]);
  });

  it('refuses the create past the running limit, naming the limit, its max and the current use', () => {
    spec([reserved('sb_1'), reserved('sb_2')])
      .when(create('sb_3'))
      .then([{ type: T.Denied, data: { sandboxId: 'sb_3', operation: 'create', limit: 'running_sandboxes', max: 2, current: 2, at: 1_000 } }]);
  });

  it('refuses a create whose vCPUs or memory would pass the total', () => {
    spec([reserved('sb_1', 1_000, { vcpus: 3 })]).when(create('sb_2', 1_000, { vcpus: 2 }))
      .then([{ type: T.Denied, data: { sandboxId: 'sb_2', operation: 'create', limit: 'vcpus', max: 4, current: 3, at: 1_000 } }]);
    spec([reserved('sb_1', 1_000, { memoryMb: 2000 })]).when(create('sb_2'))
      .then([{ type: T.Denied, data: { sandboxId: 'sb_2', operation: 'create', limit: 'memory_mb', max: 2048, current: 2000, at: 1_000 } }]);
  });

  it('counts creates in a sliding minute, released sandboxes included', () => {
    const history: QuotaEvent[] = [
      reserved('sb_1', 1_000), { type: T.Released, data: { sandboxId: 'sb_1', reason: 'stopped' } },
      reserved('sb_2', 2_000), { type: T.Released, data: { sandboxId: 'sb_2', reason: 'stopped' } },
      reserved('sb_3', 3_000), { type: T.Released, data: { sandboxId: 'sb_3', reason: 'stopped' } },
    ];
    spec(history).when(create('sb_4', 60_999))
      .then([{ type: T.Denied, data: { sandboxId: 'sb_4', operation: 'create', limit: 'creates_per_minute', max: 3, current: 3, at: 60_999 } }]);
    spec(history).when(create('sb_4', 61_001)).then([reserved('sb_4', 61_001)]);
  });

  it('frees capacity when a sandbox is released, and a second release decides nothing', () => {
    const full = [reserved('sb_1'), reserved('sb_2'), { type: T.Released, data: { sandboxId: 'sb_1', reason: 'stopped' } } as QuotaEvent];
    spec(full).when(create('sb_3', 2_000)).then([reserved('sb_3', 2_000)]);
    spec(full).when({ type: 'Release', sandboxId: 'sb_1', reason: 'stopped' }).then([]);
  });

  it('a retried create of a sandbox already reserved decides nothing', () => {
    spec([reserved('sb_1')]).when(create('sb_1')).then([]);
  });

  it('moves a pause from running to paused and counts its snapshot; refuses a pause past the paused limit', () => {
    const pausing: QuotaEvent[] = [reserved('sb_1'), reserved('sb_2'), { type: T.PauseReserved, data: { sandboxId: 'sb_1', at: 2_000, limits } }];
    const during = quotaUsage(fold(quotaDecider, pausing), 2_000);
    assert.equal(during.runningSandboxes, 2, 'a pause under way still holds its host resources');
    assert.equal(during.pausedSandboxes, 1);
    const paused = [...pausing, { type: T.Paused, data: { sandboxId: 'sb_1', snapshotBytes: 400 } } as QuotaEvent];
    const after = quotaUsage(fold(quotaDecider, paused), 2_000);
    assert.deepEqual([after.runningSandboxes, after.vcpus, after.pausedSandboxes, after.snapshotBytes], [1, 1, 1, 400]);
    spec(paused).when({ type: 'ReservePause', sandboxId: 'sb_2', at: 3_000, limits })
      .then([{ type: T.Denied, data: { sandboxId: 'sb_2', operation: 'pause', limit: 'paused_sandboxes', max: 1, current: 1, at: 3_000 } }]);
  });

  it('refuses a pause once the snapshots fill their allowance', () => {
    const roomy = { ...limits, pausedSandboxes: 5 };
    const history: QuotaEvent[] = [reserved('sb_1'), reserved('sb_2'), { type: T.PauseReserved, data: { sandboxId: 'sb_1', at: 2_000, limits: roomy } }, { type: T.Paused, data: { sandboxId: 'sb_1', snapshotBytes: 1000 } }];
    spec(history).when({ type: 'ReservePause', sandboxId: 'sb_2', at: 3_000, limits: roomy })
      .then([{ type: T.Denied, data: { sandboxId: 'sb_2', operation: 'pause', limit: 'snapshot_bytes', max: 1000, current: 1000, at: 3_000 } }]);
  });

  it('a resume takes running capacity again and is refused when there is none; a failed resume is paused again', () => {
    const history: QuotaEvent[] = [reserved('sb_1'), { type: T.PauseReserved, data: { sandboxId: 'sb_1', at: 2_000, limits } }, { type: T.Paused, data: { sandboxId: 'sb_1', snapshotBytes: 10 } }, reserved('sb_2'), reserved('sb_3')];
    const resume: QuotaCommand = { type: 'ReserveResume', sandboxId: 'sb_1', vcpus: 1, memoryMb: 512, at: 3_000, limits };
    spec(history).when(resume)
      .then([{ type: T.Denied, data: { sandboxId: 'sb_1', operation: 'resume', limit: 'running_sandboxes', max: 2, current: 2, at: 3_000 } }]);
    const roomy = [...history, { type: T.Released, data: { sandboxId: 'sb_3', reason: 'stopped' } } as QuotaEvent];
    spec(roomy).when(resume).then([{ type: T.Reserved, data: { sandboxId: 'sb_1', operation: 'resume', vcpus: 1, memoryMb: 512, at: 3_000, limits } }]);
    const failed = [...roomy, { type: T.Reserved, data: { sandboxId: 'sb_1', operation: 'resume', vcpus: 1, memoryMb: 512, at: 3_000, limits } } as QuotaEvent, { type: T.ResumeUndone, data: { sandboxId: 'sb_1' } } as QuotaEvent];
    const usage = quotaUsage(fold(quotaDecider, failed), 3_000);
    assert.deepEqual([usage.runningSandboxes, usage.pausedSandboxes, usage.snapshotBytes], [1, 1, 10]);
  });

  it('a failed pause gives the sandbox back its running place', () => {
    const history: QuotaEvent[] = [reserved('sb_1'), { type: T.PauseReserved, data: { sandboxId: 'sb_1', at: 2_000, limits } }];
    spec(history).when({ type: 'UndoPause', sandboxId: 'sb_1' }).then([{ type: T.PauseUndone, data: { sandboxId: 'sb_1' } }]);
    const usage = quotaUsage(fold(quotaDecider, [...history, { type: T.PauseUndone, data: { sandboxId: 'sb_1' } }]), 2_000);
    assert.deepEqual([usage.runningSandboxes, usage.pausedSandboxes], [1, 0]);
  });

  it('decides nothing for sandboxes it never reserved (made before quotas existed)', () => {
    for (const command of [
      { type: 'ReservePause', sandboxId: 'old', at: 1, limits },
      { type: 'SettlePause', sandboxId: 'old', snapshotBytes: 5 },
      { type: 'UndoPause', sandboxId: 'old' },
      { type: 'UndoResume', sandboxId: 'old' },
      { type: 'Release', sandboxId: 'old', reason: 'stopped' },
    ] as QuotaCommand[]) spec([]).when(command).then([]);
  });

  it('keeps its totals equal to a recount of the holdings through any run of commands, without touching earlier states', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const wide: QuotaLimits = { runningSandboxes: 40, vcpus: 80, memoryMb: 40_000, pausedSandboxes: 20, snapshotBytes: 5_000, createsPerMinute: 1_000 };
    const recount = (state: ReturnType<typeof quotaDecider.initialState>) => {
      const t = { runningSandboxes: 0, vcpus: 0, memoryMb: 0, pausedSandboxes: 0, snapshotBytes: 0 };
      for (const [, h] of state.sandboxes) {
        if (h.status !== 'paused') (t.runningSandboxes += 1), (t.vcpus += h.vcpus), (t.memoryMb += h.memoryMb);
        if (h.status !== 'running') t.pausedSandboxes += 1;
        if (h.status === 'paused') t.snapshotBytes += h.snapshotBytes;
      }
      return t;
    };
    let state = quotaDecider.initialState();
    const seen: Array<{ state: typeof state; usage: ReturnType<typeof quotaUsage> }> = [];
    for (let step = 0; step < 3000; step++) {
      const id = `sb_${Math.floor(random() * 60)}`;
      const at = 1_000 + step * 100;
      const pick = random();
      const command: QuotaCommand =
        pick < 0.3 ? { type: 'ReserveCreate', sandboxId: id, vcpus: 1 + Math.floor(random() * 3), memoryMb: 256, at, limits: wide }
        : pick < 0.45 ? { type: 'ReservePause', sandboxId: id, at, limits: wide }
        : pick < 0.6 ? { type: 'SettlePause', sandboxId: id, snapshotBytes: Math.floor(random() * 400) }
        : pick < 0.7 ? { type: 'UndoPause', sandboxId: id }
        : pick < 0.8 ? { type: 'ReserveResume', sandboxId: id, vcpus: 2, memoryMb: 512, at, limits: wide }
        : pick < 0.85 ? { type: 'UndoResume', sandboxId: id }
        : { type: 'Release', sandboxId: id, reason: 'stopped' };
      for (const event of quotaDecider.decide(command, state)) state = quotaDecider.evolve(state, event);
      const { createsPerMinute: _c, ...totals } = quotaUsage(state, at);
      assert.deepEqual(totals, recount(state), `step ${step}`);
      if (step % 500 === 0) seen.push({ state, usage: quotaUsage(state, at) });
    }
    // Evolve made new states: every one kept along the way still says what it said.
    for (const { state: old, usage } of seen) assert.deepEqual({ ...quotaUsage(old, 0), createsPerMinute: usage.createsPerMinute }, usage);
  });
});

import { assertNever, Decider } from '../decider';
import { QuotaCommand } from './quota.commands';
import { QuotaEvent, QuotaEventType, QuotaLimit, QuotaLimits, QuotaOperation } from './quota.events';
import { evolveQuota, initialQuotaState, QuotaState, quotaUsage } from './quota.state';

interface Check {
  limit: QuotaLimit;
  max: number;
  current: number;
  /** What the operation adds. */
  adds: number;
}

function denied(sandboxId: string, operation: QuotaOperation, at: number, checks: Check[]): QuotaEvent[] | null {
  const hit = checks.find((c) => c.current + c.adds > c.max);
  if (!hit) return null;
  return [{ type: QuotaEventType.Denied, data: { sandboxId, operation, limit: hit.limit, max: hit.max, current: hit.current, at } }];
}

function runningChecks(state: QuotaState, at: number, limits: QuotaLimits, vcpus: number, memoryMb: number): Check[] {
  const used = quotaUsage(state, at);
  return [
    { limit: QuotaLimit.RunningSandboxes, max: limits.runningSandboxes, current: used.runningSandboxes, adds: 1 },
    { limit: QuotaLimit.Vcpus, max: limits.vcpus, current: used.vcpus, adds: vcpus },
    { limit: QuotaLimit.MemoryMb, max: limits.memoryMb, current: used.memoryMb, adds: memoryMb },
  ];
}

/**
 * The Team quota aggregate. Every decision reads only this team's quota stream, and the append
 * expects its last sequence: two schedulers reserving for one team at once cannot both take the
 * last slot — the second append conflicts, reloads and decides again on the truth.
 *
 * Commands about a sandbox the team holds nothing for (made before quotas existed, or already
 * released) decide nothing: quotas follow the sandbox lifecycle, they never block it.
 */
function decide(command: QuotaCommand, state: QuotaState): QuotaEvent[] {
  const held = state.sandboxes.get(command.sandboxId);
  switch (command.type) {
    case 'ReserveCreate': {
      if (held) return []; // already reserved: a retried create
      const { at, limits } = command;
      const createsInWindow = quotaUsage(state, at).createsPerMinute;
      return (
        denied(command.sandboxId, 'create', at, [
          { limit: QuotaLimit.CreatesPerMinute, max: limits.createsPerMinute, current: createsInWindow, adds: 1 },
          ...runningChecks(state, at, limits, command.vcpus, command.memoryMb),
        ]) ?? [{ type: QuotaEventType.Reserved, data: { sandboxId: command.sandboxId, operation: 'create', vcpus: command.vcpus, memoryMb: command.memoryMb, at, limits } }]
      );
    }
    case 'ReserveResume': {
      if (held && held.status !== 'paused') return [];
      const { at, limits } = command;
      return (
        denied(command.sandboxId, 'resume', at, runningChecks(state, at, limits, command.vcpus, command.memoryMb)) ?? [
          { type: QuotaEventType.Reserved, data: { sandboxId: command.sandboxId, operation: 'resume', vcpus: command.vcpus, memoryMb: command.memoryMb, at, limits } },
        ]
      );
    }
    case 'ReservePause': {
      if (!held || held.status !== 'running') return [];
      const { at, limits } = command;
      const used = quotaUsage(state, at);
      return (
        denied(command.sandboxId, 'pause', at, [
          { limit: QuotaLimit.PausedSandboxes, max: limits.pausedSandboxes, current: used.pausedSandboxes, adds: 1 },
          // A snapshot's size is known only once it is taken: a pause is refused when the team's
          // snapshots already fill the allowance, so the excess is at most one snapshot.
          { limit: QuotaLimit.SnapshotBytes, max: limits.snapshotBytes, current: used.snapshotBytes, adds: used.snapshotBytes >= limits.snapshotBytes ? 1 : 0 },
        ]) ?? [{ type: QuotaEventType.PauseReserved, data: { sandboxId: command.sandboxId, at, limits } }]
      );
    }
    case 'SettlePause':
      if (!held || held.status === 'running') return [];
      if (held.status === 'paused' && held.snapshotBytes === command.snapshotBytes) return [];
      return [{ type: QuotaEventType.Paused, data: { sandboxId: command.sandboxId, snapshotBytes: command.snapshotBytes } }];
    case 'UndoPause':
      if (!held || held.status !== 'pausing') return [];
      return [{ type: QuotaEventType.PauseUndone, data: { sandboxId: command.sandboxId } }];
    case 'UndoResume':
      if (!held || held.status !== 'running') return [];
      return [{ type: QuotaEventType.ResumeUndone, data: { sandboxId: command.sandboxId } }];
    case 'Release':
      if (!held) return [];
      return [{ type: QuotaEventType.Released, data: { sandboxId: command.sandboxId, reason: command.reason } }];
    default:
      return assertNever(command);
  }
}

export const quotaDecider: Decider<QuotaCommand, QuotaEvent, QuotaState> = {
  initialState: initialQuotaState,
  decide,
  evolve: evolveQuota,
};

/** The refusal among decided events, if the decision was one. */
export function quotaDenial(events: readonly { type: string; data: unknown }[]): Extract<QuotaEvent, { type: 'quota.denied' }>['data'] | null {
  const denial = events.find((e) => e.type === QuotaEventType.Denied);
  return denial ? (denial.data as Extract<QuotaEvent, { type: 'quota.denied' }>['data']) : null;
}

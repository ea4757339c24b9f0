import type { QuotaFigures } from '@wrenn/contracts';
import { assertNever } from '../decider';
import { QuotaEvent, QuotaEventType } from './quota.events';

/** How one sandbox weighs on its team. */
export interface QuotaHolding {
  vcpus: number;
  memoryMb: number;
  status: 'running' | 'pausing' | 'paused';
  /** Size of its snapshot; counted while paused. */
  snapshotBytes: number;
  /** When the holding was last reserved (epoch ms): lets a stale reservation be told from a new one. */
  at: number;
}

export interface QuotaState {
  sandboxes: Readonly<Record<string, QuotaHolding>>;
  /** Epoch ms of the creates accepted in the minute before the last decision, oldest first. */
  recentCreates: readonly number[];
}

export const CREATE_WINDOW_MS = 60_000;

export function initialQuotaState(): QuotaState {
  return { sandboxes: {}, recentCreates: [] };
}

/** What a team uses now, as GET /v1/quotas reports it. */
export type QuotaUsage = QuotaFigures;

export function quotaUsage(state: QuotaState, now: number): QuotaUsage {
  const usage: QuotaUsage = { runningSandboxes: 0, vcpus: 0, memoryMb: 0, pausedSandboxes: 0, snapshotBytes: 0, createsPerMinute: 0 };
  for (const held of Object.values(state.sandboxes)) {
    if (held.status !== 'paused') {
      usage.runningSandboxes += 1;
      usage.vcpus += held.vcpus;
      usage.memoryMb += held.memoryMb;
    }
    if (held.status !== 'running') usage.pausedSandboxes += 1;
    if (held.status === 'paused') usage.snapshotBytes += held.snapshotBytes;
  }
  usage.createsPerMinute = state.recentCreates.filter((t) => t > now - CREATE_WINDOW_MS).length;
  return usage;
}

function withHolding(state: QuotaState, sandboxId: string, change: (held: QuotaHolding) => QuotaHolding): QuotaState {
  const held = state.sandboxes[sandboxId];
  if (!held) return state; // a holding the log never reserved (made before quotas existed) weighs nothing
  return { ...state, sandboxes: { ...state.sandboxes, [sandboxId]: change(held) } };
}

export function evolveQuota(state: QuotaState, event: QuotaEvent): QuotaState {
  switch (event.type) {
    case QuotaEventType.Reserved: {
      const d = event.data;
      const before = state.sandboxes[d.sandboxId];
      const recentCreates = d.operation === 'create' ? [...state.recentCreates.filter((t) => t > d.at - CREATE_WINDOW_MS), d.at] : state.recentCreates;
      return {
        recentCreates,
        sandboxes: { ...state.sandboxes, [d.sandboxId]: { vcpus: d.vcpus, memoryMb: d.memoryMb, status: 'running', snapshotBytes: before?.snapshotBytes ?? 0, at: d.at } },
      };
    }
    case QuotaEventType.Denied:
      return state;
    case QuotaEventType.PauseReserved:
      return withHolding(state, event.data.sandboxId, (h) => ({ ...h, status: 'pausing', at: event.data.at }));
    case QuotaEventType.Paused:
      return withHolding(state, event.data.sandboxId, (h) => ({ ...h, status: 'paused', snapshotBytes: event.data.snapshotBytes }));
    case QuotaEventType.PauseUndone:
      return withHolding(state, event.data.sandboxId, (h) => ({ ...h, status: 'running' }));
    case QuotaEventType.ResumeUndone:
      return withHolding(state, event.data.sandboxId, (h) => ({ ...h, status: 'paused' }));
    case QuotaEventType.Released: {
      if (!state.sandboxes[event.data.sandboxId]) return state;
      const { [event.data.sandboxId]: _gone, ...rest } = state.sandboxes;
      return { ...state, sandboxes: rest };
    }
    default:
      return assertNever(event);
  }
}

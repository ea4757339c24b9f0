import type { QuotaFigures } from '@wrenn/contracts';
import { Map as ImmutableMap } from 'immutable';
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

/**
 * A team's holdings and what they add up to. The holdings are a persistent map (immutable.js:
 * a new version shares all but the changed path with the old, O(log32 n)) and the totals are
 * kept as events arrive, so deciding on a team with a thousand live sandboxes costs what it
 * costs with ten; a plain object copied on every event cost ~1.8 ms a command at 1,000 live.
 */
export interface QuotaState {
  sandboxes: ImmutableMap<string, QuotaHolding>;
  /** Epoch ms of the creates accepted in the minute before the last decision, oldest first. */
  recentCreates: readonly number[];
  /** The holdings summed (quotaUsage without createsPerMinute). */
  totals: Readonly<Omit<QuotaUsage, 'createsPerMinute'>>;
}

export const CREATE_WINDOW_MS = 60_000;

const NO_TOTALS: QuotaState['totals'] = { runningSandboxes: 0, vcpus: 0, memoryMb: 0, pausedSandboxes: 0, snapshotBytes: 0 };

export function initialQuotaState(): QuotaState {
  return { sandboxes: ImmutableMap(), recentCreates: [], totals: NO_TOTALS };
}

/** What a team uses now, as GET /v1/quotas reports it. */
export type QuotaUsage = QuotaFigures;

export function quotaUsage(state: QuotaState, now: number): QuotaUsage {
  return { ...state.totals, createsPerMinute: state.recentCreates.filter((t) => t > now - CREATE_WINDOW_MS).length };
}

/** The totals with one holding replaced (`before` out, `after` in; either may be absent). */
function retotal(totals: QuotaState['totals'], before: QuotaHolding | undefined, after: QuotaHolding | undefined): QuotaState['totals'] {
  const t = { ...totals };
  for (const [held, sign] of [[before, -1], [after, 1]] as const) {
    if (!held) continue;
    if (held.status !== 'paused') {
      t.runningSandboxes += sign;
      t.vcpus += sign * held.vcpus;
      t.memoryMb += sign * held.memoryMb;
    }
    if (held.status !== 'running') t.pausedSandboxes += sign;
    if (held.status === 'paused') t.snapshotBytes += sign * held.snapshotBytes;
  }
  return t;
}

function withHolding(state: QuotaState, sandboxId: string, change: (held: QuotaHolding) => QuotaHolding): QuotaState {
  const held = state.sandboxes.get(sandboxId);
  if (!held) return state; // a holding the log never reserved (made before quotas existed) weighs nothing
  const next = change(held);
  return { ...state, sandboxes: state.sandboxes.set(sandboxId, next), totals: retotal(state.totals, held, next) };
}

export function evolveQuota(state: QuotaState, event: QuotaEvent): QuotaState {
  switch (event.type) {
    case QuotaEventType.Reserved: {
      const d = event.data;
      const before = state.sandboxes.get(d.sandboxId);
      const recentCreates = d.operation === 'create' ? [...state.recentCreates.filter((t) => t > d.at - CREATE_WINDOW_MS), d.at] : state.recentCreates;
      const held: QuotaHolding = { vcpus: d.vcpus, memoryMb: d.memoryMb, status: 'running', snapshotBytes: before?.snapshotBytes ?? 0, at: d.at };
      return { recentCreates, sandboxes: state.sandboxes.set(d.sandboxId, held), totals: retotal(state.totals, before, held) };
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
      const held = state.sandboxes.get(event.data.sandboxId);
      if (!held) return state;
      return { ...state, sandboxes: state.sandboxes.delete(event.data.sandboxId), totals: retotal(state.totals, held, undefined) };
    }
    default:
      return assertNever(event);
  }
}

import type { QuotaFigures } from '@wrenn/contracts';

/**
 * Quota events: one stream per team (evt.quota.<teamId>). They record what the team holds
 * (reservations made when sandboxes are created, paused and resumed, released when they end)
 * and every refusal, so the audit trail shows who was turned away and by which limit.
 */

/** The limits a decision was taken under; recorded on each decision so a replay reads the same. */
export type QuotaLimits = QuotaFigures;

/** Stable names of the limits, as the API reports the one that was hit. */
export const QuotaLimit = {
  RunningSandboxes: 'running_sandboxes',
  Vcpus: 'vcpus',
  MemoryMb: 'memory_mb',
  PausedSandboxes: 'paused_sandboxes',
  SnapshotBytes: 'snapshot_bytes',
  CreatesPerMinute: 'creates_per_minute',
} as const;
export type QuotaLimit = (typeof QuotaLimit)[keyof typeof QuotaLimit];

export type QuotaOperation = 'create' | 'resume' | 'pause';

export const QuotaEventType = {
  Reserved: 'quota.reserved',
  Denied: 'quota.denied',
  PauseReserved: 'quota.pause_reserved',
  Paused: 'quota.paused',
  PauseUndone: 'quota.pause_undone',
  ResumeUndone: 'quota.resume_undone',
  Released: 'quota.released',
} as const;
export type QuotaEventType = (typeof QuotaEventType)[keyof typeof QuotaEventType];

export type QuotaEvent =
  // A create (a new sandbox) or a resume (a paused one) takes running capacity. `at` is epoch ms.
  | { type: typeof QuotaEventType.Reserved; data: { sandboxId: string; operation: 'create' | 'resume'; vcpus: number; memoryMb: number; at: number; limits: QuotaLimits } }
  | { type: typeof QuotaEventType.Denied; data: { sandboxId: string; operation: QuotaOperation; limit: QuotaLimit; max: number; current: number; at: number } }
  // A pause under way counts as running (the host still holds it) and as paused.
  | { type: typeof QuotaEventType.PauseReserved; data: { sandboxId: string; at: number; limits: QuotaLimits } }
  | { type: typeof QuotaEventType.Paused; data: { sandboxId: string; snapshotBytes: number } }
  | { type: typeof QuotaEventType.PauseUndone; data: { sandboxId: string } }
  | { type: typeof QuotaEventType.ResumeUndone; data: { sandboxId: string } }
  | { type: typeof QuotaEventType.Released; data: { sandboxId: string; reason: string } };

export const QUOTA_EVENT_TYPES: readonly QuotaEventType[] = Object.values(QuotaEventType);

export function isQuotaEventType(type: string): type is QuotaEventType {
  return (QUOTA_EVENT_TYPES as readonly string[]).includes(type);
}

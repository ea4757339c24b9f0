/**
 * Sandbox events. Past tense, one schema per (type, version); a published schema never changes:
 * a breaking change becomes version 2 plus an upcaster in sandbox.upcasters.ts.
 */
import type { NetworkPolicy } from '@wrenn/contracts';

export const SandboxEventType = {
  Requested: 'sandbox.requested',
  Scheduled: 'sandbox.scheduled',
  Started: 'sandbox.started',
  Claimed: 'sandbox.claimed',
  Failed: 'sandbox.failed',
  PauseRequested: 'sandbox.pause_requested',
  Paused: 'sandbox.paused',
  AutoPaused: 'sandbox.auto_paused',
  PauseFailed: 'sandbox.pause_failed',
  ResumeRequested: 'sandbox.resume_requested',
  Resumed: 'sandbox.resumed',
  ResumeFailed: 'sandbox.resume_failed',
  StopRequested: 'sandbox.stop_requested',
  Stopped: 'sandbox.stopped',
  Lost: 'sandbox.lost',
  TimeoutChanged: 'sandbox.timeout_changed',
  NetworkChanged: 'sandbox.network_changed',
} as const;
export type SandboxEventType = (typeof SandboxEventType)[keyof typeof SandboxEventType];

export type PauseReason = 'user' | 'ttl';

/** What a create asks for, as sandbox.requested (and sandbox.claimed) record it. */
export interface SandboxRequestedData {
  sandboxId: string;
  teamId: string;
  template: string;
  vcpus: number;
  memoryMb: number;
  timeoutSec: number;
  templateId?: string;
  diskMb?: number;
  network?: NetworkPolicy;
}

export type SandboxEvent =
  | {
      type: typeof SandboxEventType.Requested;
      /**
       * `templateId` is present only for sandboxes started from a frozen template. Optional, so
       * every v1 event written before templates existed still reads as a built-in image.
       * `network` is present only when the sandbox asked for an egress policy other than the
       * defaults (and absent from every event written before policies existed).
       */
      data: SandboxRequestedData;
    }
  /**
   * A create a host served from its warm pool, in one event: requested, placed and running at
   * once (what sandbox.requested, sandbox.scheduled and sandbox.started say one by one on the
   * cold path). The request's fields are sandbox.requested's, with the same optional ones.
   */
  | { type: typeof SandboxEventType.Claimed; data: SandboxRequestedData & { hostId: string; bootId: string; elapsedMs: number } }
  | { type: typeof SandboxEventType.Scheduled; data: { hostId: string; bootId: string } }
  | { type: typeof SandboxEventType.Started; data: { hostId: string; elapsedMs: number } }
  | { type: typeof SandboxEventType.Failed; data: { reason: string; during: string } }
  | { type: typeof SandboxEventType.PauseRequested; data: { reason: PauseReason } }
  // sizeBytes: disk the snapshot occupies on its host; billing derives snapshot storage from it.
  | { type: typeof SandboxEventType.Paused; data: { snapshotRef: string; sizeBytes: number } }
  | { type: typeof SandboxEventType.AutoPaused; data: { snapshotRef: string; sizeBytes: number } }
  | { type: typeof SandboxEventType.PauseFailed; data: { reason: string } }
  | { type: typeof SandboxEventType.ResumeRequested; data: { hostId: string; bootId: string } }
  | { type: typeof SandboxEventType.Resumed; data: { hostId: string } }
  | { type: typeof SandboxEventType.ResumeFailed; data: { reason: string } }
  | { type: typeof SandboxEventType.StopRequested; data: Record<string, never> }
  | { type: typeof SandboxEventType.Stopped; data: Record<string, never> }
  | { type: typeof SandboxEventType.Lost; data: { hostId: string; reason: string } }
  // The inactivity timeout from now on (seconds, 0 = never); the state does not change.
  | { type: typeof SandboxEventType.TimeoutChanged; data: { timeoutSec: number } }
  // The egress policy from now on, whole (it replaces the one before); the state does not change.
  | { type: typeof SandboxEventType.NetworkChanged; data: { network: NetworkPolicy } };

export const SANDBOX_EVENT_TYPES: readonly SandboxEventType[] = Object.values(SandboxEventType);

export function isSandboxEventType(type: string): type is SandboxEventType {
  return (SANDBOX_EVENT_TYPES as readonly string[]).includes(type);
}

import { DEFAULT_NETWORK_POLICY, NetworkPolicy } from '@wrenn/contracts';
import { assertNever } from '../decider';
import { SandboxEvent, SandboxEventType } from './sandbox.events';

export const SandboxStatus = {
  Pending: 'pending',
  Starting: 'starting',
  Running: 'running',
  Pausing: 'pausing',
  Paused: 'paused',
  Resuming: 'resuming',
  Deleting: 'deleting',
  Deleted: 'deleted',
  Failed: 'failed',
  Lost: 'lost',
} as const;
export type SandboxStatus = (typeof SandboxStatus)[keyof typeof SandboxStatus];
export const SANDBOX_STATUSES: readonly SandboxStatus[] = Object.values(SandboxStatus);

export type SandboxState =
  | { status: 'initial' }
  | {
      status: SandboxStatus;
      sandboxId: string;
      teamId: string;
      template: string;
      vcpus: number;
      memoryMb: number;
      /** Disk quota in MiB; null = the host's default. */
      diskMb: number | null;
      timeoutSec: number;
      /** The egress policy the host enforces (the defaults unless one was asked for). */
      network: NetworkPolicy;
      /** Snapshot template the sandbox started from; null for built-in images. */
      templateId: string | null;
      /** Host that holds (or last held) the sandbox; null before placement. */
      hostId: string | null;
      /** Boot id of the host agent the current host operation was sent to. */
      bootId: string | null;
      snapshotRef: string | null;
      pauseReason: 'user' | 'ttl' | null;
      failureReason: string | null;
    };

export type ExistingSandbox = Exclude<SandboxState, { status: 'initial' }>;

export function initialSandboxState(): SandboxState {
  return { status: 'initial' };
}

export function evolveSandbox(state: SandboxState, event: SandboxEvent): SandboxState {
  if (event.type === SandboxEventType.Requested || event.type === SandboxEventType.Claimed) {
    const claimed = event.type === SandboxEventType.Claimed ? event.data : undefined;
    return {
      status: claimed ? SandboxStatus.Running : SandboxStatus.Pending,
      sandboxId: event.data.sandboxId,
      teamId: event.data.teamId,
      template: event.data.template,
      vcpus: event.data.vcpus,
      memoryMb: event.data.memoryMb,
      diskMb: event.data.diskMb ?? null,
      timeoutSec: event.data.timeoutSec,
      network: event.data.network ?? DEFAULT_NETWORK_POLICY,
      templateId: event.data.templateId ?? null,
      hostId: claimed?.hostId ?? null,
      bootId: claimed?.bootId ?? null,
      snapshotRef: null,
      pauseReason: null,
      failureReason: null,
    };
  }
  // Every other event applies to an existing sandbox; an event out of place is a corrupt
  // history, which evolve refuses rather than guesses at.
  if (state.status === 'initial') throw new Error(`${event.type} before sandbox.requested`);
  switch (event.type) {
    case SandboxEventType.Scheduled:
      return { ...state, status: SandboxStatus.Starting, hostId: event.data.hostId, bootId: event.data.bootId };
    case SandboxEventType.Started:
      return { ...state, status: SandboxStatus.Running, hostId: event.data.hostId };
    case SandboxEventType.Failed:
      return { ...state, status: SandboxStatus.Failed, failureReason: event.data.reason };
    case SandboxEventType.PauseRequested:
      return { ...state, status: SandboxStatus.Pausing, pauseReason: event.data.reason };
    case SandboxEventType.Paused:
    case SandboxEventType.AutoPaused:
      return { ...state, status: SandboxStatus.Paused, snapshotRef: event.data.snapshotRef };
    case SandboxEventType.PauseFailed:
      return { ...state, status: SandboxStatus.Running, pauseReason: null };
    case SandboxEventType.ResumeRequested:
      return { ...state, status: SandboxStatus.Resuming, hostId: event.data.hostId, bootId: event.data.bootId };
    case SandboxEventType.Resumed:
      return { ...state, status: SandboxStatus.Running, hostId: event.data.hostId, pauseReason: null };
    case SandboxEventType.ResumeFailed:
      return { ...state, status: SandboxStatus.Paused };
    case SandboxEventType.StopRequested:
      return { ...state, status: SandboxStatus.Deleting };
    case SandboxEventType.Stopped:
      return { ...state, status: SandboxStatus.Deleted };
    case SandboxEventType.Lost:
      return { ...state, status: SandboxStatus.Lost, failureReason: event.data.reason };
    case SandboxEventType.TimeoutChanged:
      return { ...state, timeoutSec: event.data.timeoutSec };
    case SandboxEventType.NetworkChanged:
      return { ...state, network: event.data.network };
    default:
      return assertNever(event);
  }
}

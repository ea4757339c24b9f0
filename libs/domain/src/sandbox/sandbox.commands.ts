import type { NetworkPolicy } from '@wrenn/contracts';
import { PauseReason } from './sandbox.events';
import type { SandboxStatus } from './sandbox.state';

/** Commands are imperative. Facts the decider needs from the world (host choice) ride inside. */
export const SandboxCommandType = {
  RequestSandbox: 'RequestSandbox',
  RecordClaim: 'RecordClaim',
  ScheduleSandbox: 'ScheduleSandbox',
  MarkStarted: 'MarkStarted',
  MarkFailed: 'MarkFailed',
  RequestPause: 'RequestPause',
  MarkPaused: 'MarkPaused',
  MarkPauseFailed: 'MarkPauseFailed',
  RequestResume: 'RequestResume',
  MarkResumed: 'MarkResumed',
  MarkResumeFailed: 'MarkResumeFailed',
  RequestStop: 'RequestStop',
  MarkStopped: 'MarkStopped',
  MarkLost: 'MarkLost',
  SetTimeout: 'SetTimeout',
  SetNetwork: 'SetNetwork',
} as const;
export type SandboxCommandType = (typeof SandboxCommandType)[keyof typeof SandboxCommandType];

/** What a create asks for (RequestSandbox's fields, and RecordClaim's beside where it runs). */
export interface SandboxRequest {
  sandboxId: string;
  teamId: string;
  template: string;
  vcpus: number;
  memoryMb: number;
  timeoutSec: number;
  /** Set when the sandbox starts from a frozen template. */
  templateId?: string;
  /** Disk quota in MiB; absent = the host's default. */
  diskMb?: number;
  /** Egress policy; absent = the defaults. */
  network?: NetworkPolicy;
}

export type SandboxCommand =
  | ({ type: typeof SandboxCommandType.RequestSandbox } & SandboxRequest)
  /**
   * A host already gave the sandbox a warm one of its pool: the request, its placement and its
   * start are recorded at once, as one event.
   */
  | ({ type: typeof SandboxCommandType.RecordClaim; hostId: string; bootId: string; elapsedMs: number } & SandboxRequest)
  | { type: typeof SandboxCommandType.ScheduleSandbox; hostId: string; bootId: string }
  | { type: typeof SandboxCommandType.MarkStarted; hostId: string; elapsedMs: number }
  | {
      type: typeof SandboxCommandType.MarkFailed;
      reason: string;
      /**
       * Fail only from these states: a caller that judged the sandbox from an earlier look (the
       * reaper) must not fail a pause or destroy that began since; decided atomically with the append.
       */
      onlyFrom?: readonly SandboxStatus[];
    }
  | { type: typeof SandboxCommandType.RequestPause; reason: PauseReason }
  | { type: typeof SandboxCommandType.MarkPaused; snapshotRef: string; sizeBytes: number }
  | { type: typeof SandboxCommandType.MarkPauseFailed; reason: string }
  | { type: typeof SandboxCommandType.RequestResume; hostId: string; bootId: string }
  | { type: typeof SandboxCommandType.MarkResumed; hostId: string }
  | { type: typeof SandboxCommandType.MarkResumeFailed; reason: string }
  | { type: typeof SandboxCommandType.RequestStop }
  | { type: typeof SandboxCommandType.MarkStopped }
  | { type: typeof SandboxCommandType.MarkLost; hostId: string; reason: string }
  /** Seconds of inactivity before the reaper pauses the sandbox; 0 = never. */
  | { type: typeof SandboxCommandType.SetTimeout; timeoutSec: number }
  /** A new egress policy, replacing the one before (already applied on the host when running). */
  | { type: typeof SandboxCommandType.SetNetwork; network: NetworkPolicy };

export const SANDBOX_COMMAND_TYPES: readonly SandboxCommandType[] = Object.values(SandboxCommandType);

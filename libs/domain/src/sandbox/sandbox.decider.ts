import { ErrorCode, isDefaultPolicy, NetworkPolicy, requireNetworkPolicy, samePolicy, WrennError } from '@wrenn/contracts';
import { assertNever, Decider } from '../decider';
import { SandboxCommand, SandboxCommandType } from './sandbox.commands';
import { SandboxEvent, SandboxEventType, SandboxRequestedData } from './sandbox.events';
import { evolveSandbox, ExistingSandbox, initialSandboxState, SandboxState, SandboxStatus } from './sandbox.state';

type From = SandboxState['status'];

/**
 * The lifecycle of DESIGN §3 as one table: for each command, the states it may be applied in.
 * Anything not listed is an illegal transition (409 invalid_state). The decide switch below
 * consults this table, and the unit tests walk every (state, command) pair against it.
 */
export const ALLOWED_FROM: Readonly<Record<SandboxCommandType, readonly From[]>> = {
  RequestSandbox: ['initial'],
  // A warm claim is a whole create in one event, so it too begins a sandbox or nothing.
  RecordClaim: ['initial'],
  // Again from starting: the chosen host refused for want of room before doing anything, and
  // the scheduler places the sandbox on the next one.
  ScheduleSandbox: [SandboxStatus.Pending, SandboxStatus.Starting],
  MarkStarted: [SandboxStatus.Starting],
  // A start, pause, resume or stop that goes wrong beyond repair ends in failed.
  MarkFailed: [
    SandboxStatus.Pending,
    SandboxStatus.Starting,
    SandboxStatus.Running,
    SandboxStatus.Pausing,
    SandboxStatus.Resuming,
    SandboxStatus.Deleting,
  ],
  RequestPause: [SandboxStatus.Running],
  MarkPaused: [SandboxStatus.Pausing],
  MarkPauseFailed: [SandboxStatus.Pausing],
  RequestResume: [SandboxStatus.Paused],
  MarkResumed: [SandboxStatus.Resuming],
  MarkResumeFailed: [SandboxStatus.Resuming],
  // Destroy is allowed from every settled state, and while a create is in flight (the host
  // agent serialises operations per sandbox, so the destroy lands after the create).
  RequestStop: [
    SandboxStatus.Pending,
    SandboxStatus.Starting,
    SandboxStatus.Running,
    SandboxStatus.Paused,
    SandboxStatus.Failed,
    SandboxStatus.Lost,
  ],
  MarkStopped: [SandboxStatus.Deleting],
  // Only states whose host work is live can lose their host; a paused sandbox's snapshot is
  // handled by the lifecycle (issue: lost hosts), not by this command.
  MarkLost: [
    SandboxStatus.Starting,
    SandboxStatus.Running,
    SandboxStatus.Pausing,
    SandboxStatus.Resuming,
    SandboxStatus.Deleting,
  ],
  // The timeout is the inactivity after which a running sandbox is paused: data only, no host
  // work, so it may change whenever the sandbox can still run again — a paused one keeps it for
  // after its resume, and a change racing a TTL pause or a resume is not refused for the race.
  // A sandbox being destroyed or already ended has no use for one.
  SetTimeout: [
    SandboxStatus.Pending,
    SandboxStatus.Starting,
    SandboxStatus.Running,
    SandboxStatus.Pausing,
    SandboxStatus.Paused,
    SandboxStatus.Resuming,
  ],
  // The egress policy: a running sandbox's is applied on its host before it is recorded; a
  // paused one's takes effect at its resume. In between (starting, pausing, resuming) the host
  // is mid-way through work that carries the policy of before, so a change waits for it.
  SetNetwork: [SandboxStatus.Running, SandboxStatus.Paused],
};

function guard(command: SandboxCommand, state: SandboxState): void {
  const narrowed = command.type === SandboxCommandType.MarkFailed && command.onlyFrom !== undefined && state.status !== 'initial' && !command.onlyFrom.includes(state.status);
  if (!narrowed && ALLOWED_FROM[command.type].includes(state.status)) return;
  if (state.status === 'initial') {
    throw new WrennError(ErrorCode.SandboxNotFound, `sandbox does not exist`, { command: command.type });
  }
  if (command.type === SandboxCommandType.RequestSandbox || command.type === SandboxCommandType.RecordClaim) {
    throw new WrennError(ErrorCode.SandboxExists, `sandbox ${state.sandboxId} already exists`);
  }
  throw new WrennError(
    ErrorCode.InvalidState,
    `cannot ${describe(command.type)} a sandbox that is ${state.status}`,
    { state: state.status, command: command.type },
  );
}

function describe(type: SandboxCommandType): string {
  switch (type) {
    case 'RequestSandbox': return 'create';
    case 'RecordClaim': return 'record the warm claim of';
    case 'ScheduleSandbox': return 'schedule';
    case 'MarkStarted': return 'mark started';
    case 'MarkFailed': return 'fail';
    case 'RequestPause': return 'pause';
    case 'MarkPaused': return 'mark paused';
    case 'MarkPauseFailed': return 'fail the pause of';
    case 'RequestResume': return 'resume';
    case 'MarkResumed': return 'mark resumed';
    case 'MarkResumeFailed': return 'fail the resume of';
    case 'RequestStop': return 'destroy';
    case 'MarkStopped': return 'mark stopped';
    case 'MarkLost': return 'mark lost';
    case 'SetTimeout': return 'set the timeout of';
    case 'SetNetwork': return 'change the network policy of';
    default: return assertNever(type);
  }
}

/** What a create asked for, as its first event records it (optional fields only when set). */
function requestedData(command: Extract<SandboxCommand, { type: 'RequestSandbox' | 'RecordClaim' }>, network: NetworkPolicy | undefined): SandboxRequestedData {
  return {
    sandboxId: command.sandboxId,
    teamId: command.teamId,
    template: command.template,
    vcpus: command.vcpus,
    memoryMb: command.memoryMb,
    timeoutSec: command.timeoutSec,
    ...(command.templateId ? { templateId: command.templateId } : {}),
    ...(command.diskMb !== undefined ? { diskMb: command.diskMb } : {}),
    ...(network && !isDefaultPolicy(network) ? { network } : {}),
  };
}

function decide(command: SandboxCommand, state: SandboxState): SandboxEvent[] {
  // A bad policy is refused before anything else is looked at: nothing of it is taken.
  const creating = command.type === SandboxCommandType.RequestSandbox || command.type === SandboxCommandType.RecordClaim;
  const network = creating && command.network ? requireNetworkPolicy(command.network) : command.type === SandboxCommandType.SetNetwork ? requireNetworkPolicy(command.network) : undefined;
  guard(command, state);
  const current = state as ExistingSandbox; // every command but RequestSandbox needs an existing one
  switch (command.type) {
    case SandboxCommandType.RequestSandbox:
      return [{ type: SandboxEventType.Requested, data: requestedData(command, network) }];
    case SandboxCommandType.RecordClaim:
      return [{ type: SandboxEventType.Claimed, data: { ...requestedData(command, network), hostId: command.hostId, bootId: command.bootId, elapsedMs: command.elapsedMs } }];
    case SandboxCommandType.ScheduleSandbox:
      return [{ type: SandboxEventType.Scheduled, data: { hostId: command.hostId, bootId: command.bootId } }];
    case SandboxCommandType.MarkStarted:
      return [{ type: SandboxEventType.Started, data: { hostId: command.hostId, elapsedMs: command.elapsedMs } }];
    case SandboxCommandType.MarkFailed:
      return [{ type: SandboxEventType.Failed, data: { reason: command.reason, during: current.status } }];
    case SandboxCommandType.RequestPause:
      return [{ type: SandboxEventType.PauseRequested, data: { reason: command.reason } }];
    case SandboxCommandType.MarkPaused:
      // The TTL reaper's pauses are told apart so the reconciler and users can see them.
      return current.pauseReason === 'ttl'
        ? [{ type: SandboxEventType.AutoPaused, data: { snapshotRef: command.snapshotRef, sizeBytes: command.sizeBytes } }]
        : [{ type: SandboxEventType.Paused, data: { snapshotRef: command.snapshotRef, sizeBytes: command.sizeBytes } }];
    case SandboxCommandType.MarkPauseFailed:
      return [{ type: SandboxEventType.PauseFailed, data: { reason: command.reason } }];
    case SandboxCommandType.RequestResume:
      return [{ type: SandboxEventType.ResumeRequested, data: { hostId: command.hostId, bootId: command.bootId } }];
    case SandboxCommandType.MarkResumed:
      return [{ type: SandboxEventType.Resumed, data: { hostId: command.hostId } }];
    case SandboxCommandType.MarkResumeFailed:
      return [{ type: SandboxEventType.ResumeFailed, data: { reason: command.reason } }];
    case SandboxCommandType.RequestStop:
      return [{ type: SandboxEventType.StopRequested, data: {} }];
    case SandboxCommandType.MarkStopped:
      return [{ type: SandboxEventType.Stopped, data: {} }];
    case SandboxCommandType.MarkLost:
      return [{ type: SandboxEventType.Lost, data: { hostId: command.hostId, reason: command.reason } }];
    case SandboxCommandType.SetTimeout:
      // The same timeout again changes nothing, so it records nothing.
      if (command.timeoutSec === current.timeoutSec) return [];
      return [{ type: SandboxEventType.TimeoutChanged, data: { timeoutSec: command.timeoutSec } }];
    case SandboxCommandType.SetNetwork:
      // The policy it already has records nothing.
      if (samePolicy(network!, current.network)) return [];
      return [{ type: SandboxEventType.NetworkChanged, data: { network: network! } }];
    default:
      return assertNever(command);
  }
}

export const sandboxDecider: Decider<SandboxCommand, SandboxEvent, SandboxState> = {
  initialState: initialSandboxState,
  decide,
  evolve: evolveSandbox,
};

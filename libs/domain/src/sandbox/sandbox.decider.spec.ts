import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@wrenn/contracts';
import { specFor } from '@wrenn/domain-test-support';
import { fold } from '../decider';
import { SandboxCommand, SandboxCommandType, SANDBOX_COMMAND_TYPES } from './sandbox.commands';
import { ALLOWED_FROM, sandboxDecider } from './sandbox.decider';
import { SandboxEvent, SandboxEventType as T } from './sandbox.events';
import { SandboxStatus } from './sandbox.state';

const spec = specFor(sandboxDecider);

const requested: SandboxEvent = {
  type: T.Requested,
  data: { sandboxId: 'sb_1', teamId: 'team_1', template: 'base', vcpus: 1, memoryMb: 512, timeoutSec: 0 },
};
const scheduled: SandboxEvent = { type: T.Scheduled, data: { hostId: 'h1', bootId: 'b1' } };
const started: SandboxEvent = { type: T.Started, data: { hostId: 'h1', elapsedMs: 12 } };
const pauseRequested: SandboxEvent = { type: T.PauseRequested, data: { reason: 'user' } };
const ttlPauseRequested: SandboxEvent = { type: T.PauseRequested, data: { reason: 'ttl' } };
const paused: SandboxEvent = { type: T.Paused, data: { snapshotRef: 'snap_1', sizeBytes: 4096 } };
const resumeRequested: SandboxEvent = { type: T.ResumeRequested, data: { hostId: 'h2', bootId: 'b2' } };
const stopRequested: SandboxEvent = { type: T.StopRequested, data: {} };

/** One history that reaches each state, so every (state, command) pair can be tried. */
const HISTORIES: Record<string, SandboxEvent[]> = {
  initial: [],
  [SandboxStatus.Pending]: [requested],
  [SandboxStatus.Starting]: [requested, scheduled],
  [SandboxStatus.Running]: [requested, scheduled, started],
  [SandboxStatus.Pausing]: [requested, scheduled, started, pauseRequested],
  [SandboxStatus.Paused]: [requested, scheduled, started, pauseRequested, paused],
  [SandboxStatus.Resuming]: [requested, scheduled, started, pauseRequested, paused, resumeRequested],
  [SandboxStatus.Deleting]: [requested, scheduled, started, stopRequested],
  [SandboxStatus.Deleted]: [requested, scheduled, started, stopRequested, { type: T.Stopped, data: {} }],
  [SandboxStatus.Failed]: [requested, scheduled, { type: T.Failed, data: { reason: 'boom', during: 'starting' } }],
  [SandboxStatus.Lost]: [requested, scheduled, started, { type: T.Lost, data: { hostId: 'h1', reason: 'heartbeat expired' } }],
};

const SAMPLE_COMMANDS: Record<SandboxCommandType, SandboxCommand> = {
  RequestSandbox: { type: 'RequestSandbox', sandboxId: 'sb_1', teamId: 'team_1', template: 'base', vcpus: 1, memoryMb: 512, timeoutSec: 0 },
  RecordClaim: { type: 'RecordClaim', sandboxId: 'sb_1', teamId: 'team_1', template: 'base', vcpus: 1, memoryMb: 512, timeoutSec: 0, hostId: 'h1', bootId: 'b1', elapsedMs: 3 },
  ScheduleSandbox: { type: 'ScheduleSandbox', hostId: 'h1', bootId: 'b1' },
  MarkStarted: { type: 'MarkStarted', hostId: 'h1', elapsedMs: 5 },
  MarkFailed: { type: 'MarkFailed', reason: 'boom' },
  RequestPause: { type: 'RequestPause', reason: 'user' },
  MarkPaused: { type: 'MarkPaused', snapshotRef: 'snap_1', sizeBytes: 4096 },
  MarkPauseFailed: { type: 'MarkPauseFailed', reason: 'disk full' },
  RequestResume: { type: 'RequestResume', hostId: 'h1', bootId: 'b1' },
  MarkResumed: { type: 'MarkResumed', hostId: 'h1' },
  MarkResumeFailed: { type: 'MarkResumeFailed', reason: 'no files' },
  RequestStop: { type: 'RequestStop' },
  MarkStopped: { type: 'MarkStopped' },
  MarkLost: { type: 'MarkLost', hostId: 'h1', reason: 'heartbeat expired' },
  SetTimeout: { type: 'SetTimeout', timeoutSec: 120 },
  SetNetwork: { type: 'SetNetwork', network: { allowOut: ['10.0.0.0/24'], denyOut: [], allowInternetAccess: true } },
};

describe('sandboxDecider', () => {
  describe('happy paths', () => {
    it('creates a pending sandbox from nothing', () => {
      spec([]).when(SAMPLE_COMMANDS.RequestSandbox).then([requested]);
    });
    it('schedules a pending sandbox on a host', () => {
      spec([requested]).when(SAMPLE_COMMANDS.ScheduleSandbox).then([scheduled]);
    });
    it('marks a starting sandbox running', () => {
      spec([requested, scheduled]).when(SAMPLE_COMMANDS.MarkStarted).then([{ type: T.Started, data: { hostId: 'h1', elapsedMs: 5 } }]);
    });
    it('records a warm claim as one event that leaves the sandbox running where the host claimed it', () => {
      const claimed: SandboxEvent = { type: T.Claimed, data: { ...requested.data, hostId: 'h1', bootId: 'b1', elapsedMs: 3 } };
      spec([]).when(SAMPLE_COMMANDS.RecordClaim).then([claimed]);
      // The same state the cold path's three events reach (but for how it got there).
      assert.deepEqual(fold(sandboxDecider, [claimed]), fold(sandboxDecider, [requested, scheduled, started]));
    });
    it('keeps what a warm claim asked for, and refuses a bad policy before anything is recorded', () => {
      const network = { allowOut: ['10.1.0.0/16'], denyOut: ['0.0.0.0/0'], allowInternetAccess: true };
      const state = fold(sandboxDecider, sandboxDecider.decide({ ...SAMPLE_COMMANDS.RecordClaim, templateId: 'tpl_1', diskMb: 2048, network } as SandboxCommand, { status: 'initial' }));
      assert.ok(state.status === 'running');
      assert.deepEqual([state.templateId, state.diskMb, state.network, state.bootId], ['tpl_1', 2048, network, 'b1']);
      spec([]).when({ ...SAMPLE_COMMANDS.RecordClaim, network: { allowOut: ['10.0.0.0/33'], denyOut: [], allowInternetAccess: true } } as SandboxCommand).thenThrows(ErrorCode.ValidationFailed);
    });
    it('records where a start failed', () => {
      spec([requested, scheduled])
        .when(SAMPLE_COMMANDS.MarkFailed)
        .then([{ type: T.Failed, data: { reason: 'boom', during: 'starting' } }]);
    });
    it('fails only from the states a caller names, so an earlier look cannot fail a pause or destroy begun since', () => {
      const onlyFrom = [SandboxStatus.Pending, SandboxStatus.Starting, SandboxStatus.Running];
      spec(HISTORIES.pausing).when({ type: 'MarkFailed', reason: 'vanished', onlyFrom }).thenThrows(ErrorCode.InvalidState);
      spec([...HISTORIES.running, { type: T.StopRequested, data: {} }]).when({ type: 'MarkFailed', reason: 'vanished', onlyFrom }).thenThrows(ErrorCode.InvalidState);
      spec(HISTORIES.running)
        .when({ type: 'MarkFailed', reason: 'vanished', onlyFrom })
        .then([{ type: T.Failed, data: { reason: 'vanished', during: 'running' } }]);
    });
    it('pauses a running sandbox by user request', () => {
      spec(HISTORIES.running).when(SAMPLE_COMMANDS.RequestPause).then([pauseRequested]);
      spec(HISTORIES.pausing).when(SAMPLE_COMMANDS.MarkPaused).then([paused]);
    });
    it('tells a TTL pause apart as auto_paused', () => {
      spec([...HISTORIES.running, ttlPauseRequested])
        .when(SAMPLE_COMMANDS.MarkPaused)
        .then([{ type: T.AutoPaused, data: { snapshotRef: 'snap_1', sizeBytes: 4096 } }]);
    });
    it('records a template a sandbox starts from, and leaves it out for built-in images', () => {
      spec([])
        .when({ ...SAMPLE_COMMANDS.RequestSandbox, templateId: 'tpl_1' } as SandboxCommand)
        .then([{ type: T.Requested, data: { ...requested.data, templateId: 'tpl_1' } } as SandboxEvent]);
      const state = fold(sandboxDecider, [{ type: T.Requested, data: { ...requested.data, templateId: 'tpl_1' } } as SandboxEvent]);
      assert.equal(state.status !== 'initial' && state.templateId, 'tpl_1');
      const plain = fold(sandboxDecider, [requested]);
      assert.equal(plain.status !== 'initial' && plain.templateId, null);
    });
    it('carries the snapshot size on a pause, for storage billing', () => {
      spec(HISTORIES.pausing).when({ type: 'MarkPaused', snapshotRef: 'snap_9', sizeBytes: 123 }).then([{ type: T.Paused, data: { snapshotRef: 'snap_9', sizeBytes: 123 } }]);
      const state = fold(sandboxDecider, [...HISTORIES.pausing, { type: T.Paused, data: { snapshotRef: 'snap_9', sizeBytes: 123 } }]);
      assert.equal(state.status === 'paused' && state.snapshotRef, 'snap_9');
    });
    it('keeps the timeout and the template across pause and resume', () => {
      const withTimeout: SandboxEvent = { type: T.Requested, data: { ...requested.data, timeoutSec: 30, templateId: 'tpl_1' } } as SandboxEvent;
      const state = fold(sandboxDecider, [withTimeout, scheduled, started, ttlPauseRequested, paused, resumeRequested, { type: T.Resumed, data: { hostId: 'h2' } }]);
      assert.ok(state.status === 'running');
      assert.equal(state.timeoutSec, 30);
      assert.equal(state.templateId, 'tpl_1');
      assert.equal(state.pauseReason, null);
    });
    it('returns to running when a pause fails (the sandbox was thawed)', () => {
      const events = [...HISTORIES.pausing, { type: T.PauseFailed, data: { reason: 'x' } } as SandboxEvent];
      assert.equal(fold(sandboxDecider, events).status, 'running');
    });
    it('resumes a paused sandbox, possibly on another host', () => {
      spec(HISTORIES.paused).when(SAMPLE_COMMANDS.RequestResume).then([{ type: T.ResumeRequested, data: { hostId: 'h1', bootId: 'b1' } }]);
      const state = fold(sandboxDecider, [...HISTORIES.resuming, { type: T.Resumed, data: { hostId: 'h2' } }]);
      assert.equal(state.status === 'running' && state.hostId, 'h2');
    });
    it('keeps the paused state when a resume fails, so the user can retry', () => {
      const state = fold(sandboxDecider, [...HISTORIES.resuming, { type: T.ResumeFailed, data: { reason: 'x' } }]);
      assert.equal(state.status, 'paused');
      spec([...HISTORIES.resuming, { type: T.ResumeFailed, data: { reason: 'x' } }])
        .when(SAMPLE_COMMANDS.RequestResume)
        .then([{ type: T.ResumeRequested, data: { hostId: 'h1', bootId: 'b1' } }]);
    });
    it('deletes through deleting to deleted', () => {
      spec(HISTORIES.running).when(SAMPLE_COMMANDS.RequestStop).then([stopRequested]);
      spec(HISTORIES.deleting).when(SAMPLE_COMMANDS.MarkStopped).then([{ type: T.Stopped, data: {} }]);
    });
    it('lets failed and lost sandboxes be destroyed to clean up', () => {
      spec(HISTORIES.failed).when(SAMPLE_COMMANDS.RequestStop).then([stopRequested]);
      spec(HISTORIES.lost).when(SAMPLE_COMMANDS.RequestStop).then([stopRequested]);
    });
    it('changes the timeout of a running sandbox', () => {
      spec(HISTORIES.running).when(SAMPLE_COMMANDS.SetTimeout).then([{ type: T.TimeoutChanged, data: { timeoutSec: 120 } }]);
      const state = fold(sandboxDecider, [...HISTORIES.running, { type: T.TimeoutChanged, data: { timeoutSec: 120 } }]);
      assert.equal(state.status, 'running', 'a new timeout does not move the sandbox');
      assert.equal(state.status === 'running' && state.timeoutSec, 120);
    });
    it('changes the timeout of a paused sandbox, which keeps it across its resume', () => {
      spec(HISTORIES.paused).when({ type: 'SetTimeout', timeoutSec: 0 } as SandboxCommand).then([]);
      spec(HISTORIES.paused).when(SAMPLE_COMMANDS.SetTimeout).then([{ type: T.TimeoutChanged, data: { timeoutSec: 120 } }]);
      const state = fold(sandboxDecider, [...HISTORIES.resuming, { type: T.Resumed, data: { hostId: 'h2' } }].flatMap((e) =>
        e.type === T.Paused ? [e, { type: T.TimeoutChanged, data: { timeoutSec: 45 } } as SandboxEvent] : [e]));
      assert.equal(state.status === 'running' && state.timeoutSec, 45);
    });
    it('records nothing when the timeout is already the one asked for', () => {
      const withTimeout = [...HISTORIES.running, { type: T.TimeoutChanged, data: { timeoutSec: 120 } } as SandboxEvent];
      spec(withTimeout).when(SAMPLE_COMMANDS.SetTimeout).then([]);
    });
    it('takes a timeout change racing a TTL pause, and keeps it whichever way the pause ends', () => {
      const ttlPausing = [...HISTORIES.running, ttlPauseRequested];
      spec(ttlPausing).when(SAMPLE_COMMANDS.SetTimeout).then([{ type: T.TimeoutChanged, data: { timeoutSec: 120 } }]);
      const changed = [...ttlPausing, { type: T.TimeoutChanged, data: { timeoutSec: 120 } } as SandboxEvent];
      const failed = fold(sandboxDecider, [...changed, { type: T.PauseFailed, data: { reason: 'x' } }]);
      assert.equal(failed.status === 'running' && failed.timeoutSec, 120);
      spec(changed).when(SAMPLE_COMMANDS.MarkPaused).then([{ type: T.AutoPaused, data: { snapshotRef: 'snap_1', sizeBytes: 4096 } }]);
    });
    it('refuses a timeout change once the sandbox is being destroyed or has ended', () => {
      for (const ended of [HISTORIES.deleting, HISTORIES.deleted, HISTORIES.failed, HISTORIES.lost]) {
        spec(ended).when(SAMPLE_COMMANDS.SetTimeout).thenThrows(ErrorCode.InvalidState);
      }
    });
    it('keeps an egress policy asked for at create, and leaves the defaults out of the event', () => {
      const network = { allowOut: ['10.1.2.3/32', 'mirror.example.com'], denyOut: ['8.8.8.8/32'], allowInternetAccess: false };
      spec([]).when({ ...SAMPLE_COMMANDS.RequestSandbox, network } as SandboxCommand).then([{ type: T.Requested, data: { ...requested.data, network } } as SandboxEvent]);
      spec([]).when({ ...SAMPLE_COMMANDS.RequestSandbox, network: { allowOut: [], denyOut: [], allowInternetAccess: true } } as SandboxCommand).then([requested]);
      const state = fold(sandboxDecider, [requested]);
      assert.deepEqual(state.status !== 'initial' && state.network, { allowOut: [], denyOut: [], allowInternetAccess: true });
    });
    it('changes the egress policy of a running or paused sandbox, whole, and keeps it across pause and resume', () => {
      const network = { allowOut: ['10.0.0.0/24'], denyOut: [], allowInternetAccess: true };
      spec(HISTORIES.running).when(SAMPLE_COMMANDS.SetNetwork).then([{ type: T.NetworkChanged, data: { network } }]);
      spec(HISTORIES.paused).when(SAMPLE_COMMANDS.SetNetwork).then([{ type: T.NetworkChanged, data: { network } }]);
      const changed = [...HISTORIES.running, { type: T.NetworkChanged, data: { network } } as SandboxEvent];
      spec(changed).when(SAMPLE_COMMANDS.SetNetwork).then([]);
      const state = fold(sandboxDecider, [...changed, pauseRequested, paused, resumeRequested, { type: T.Resumed, data: { hostId: 'h2' } }]);
      assert.deepEqual(state.status === 'running' && state.network, network);
    });
    it('refuses a bad policy with validation_failed naming the entry, at create and on a change', () => {
      const bad = { allowOut: ['10.0.0.0/33'], denyOut: [], allowInternetAccess: true };
      assert.throws(() => sandboxDecider.decide({ type: 'SetNetwork', network: bad }, fold(sandboxDecider, HISTORIES.running)), (e: { code: string; details: { fields: Record<string, string> } }) => e.code === ErrorCode.ValidationFailed && 'allowOut[0]' in e.details.fields);
      spec([]).when({ ...SAMPLE_COMMANDS.RequestSandbox, network: bad } as SandboxCommand).thenThrows(ErrorCode.ValidationFailed);
    });
    it('marks a sandbox lost with its host and reason', () => {
      spec(HISTORIES.running)
        .when(SAMPLE_COMMANDS.MarkLost)
        .then([{ type: T.Lost, data: { hostId: 'h1', reason: 'heartbeat expired' } }]);
    });
  });

  describe('illegal transitions', () => {
    it('rejects a second create of the same id', () => {
      spec(HISTORIES.running).when(SAMPLE_COMMANDS.RequestSandbox).thenThrows(ErrorCode.SandboxExists);
      spec(HISTORIES.pending).when(SAMPLE_COMMANDS.RecordClaim).thenThrows(ErrorCode.SandboxExists);
    });
    it('treats any command on a sandbox that does not exist as not found', () => {
      spec([]).when(SAMPLE_COMMANDS.RequestPause).thenThrows(ErrorCode.SandboxNotFound);
    });
    it('rejects pausing a deleted sandbox with invalid_state naming the state', () => {
      assert.throws(
        () => sandboxDecider.decide(SAMPLE_COMMANDS.RequestPause, fold(sandboxDecider, HISTORIES.deleted)),
        (error: { code: string; details: { state: string } }) => error.code === ErrorCode.InvalidState && error.details.state === 'deleted',
      );
    });

    // Walk the whole matrix: every state against every command. The expected outcome is
    // written out here independently of ALLOWED_FROM, so a change to the table shows up.
    const LEGAL = new Set([
      'initial/RequestSandbox', 'initial/RecordClaim',
      'pending/ScheduleSandbox', 'pending/MarkFailed', 'pending/RequestStop', 'pending/SetTimeout',
      'starting/ScheduleSandbox', 'starting/MarkStarted', 'starting/MarkFailed', 'starting/RequestStop', 'starting/MarkLost', 'starting/SetTimeout',
      'running/MarkFailed', 'running/RequestPause', 'running/RequestStop', 'running/MarkLost', 'running/SetTimeout', 'running/SetNetwork',
      'pausing/MarkFailed', 'pausing/MarkPaused', 'pausing/MarkPauseFailed', 'pausing/MarkLost', 'pausing/SetTimeout',
      'paused/RequestResume', 'paused/RequestStop', 'paused/SetTimeout', 'paused/SetNetwork',
      'resuming/MarkFailed', 'resuming/MarkResumed', 'resuming/MarkResumeFailed', 'resuming/MarkLost', 'resuming/SetTimeout',
      'deleting/MarkFailed', 'deleting/MarkStopped', 'deleting/MarkLost',
      'failed/RequestStop',
      'lost/RequestStop',
    ]);
    for (const [state, history] of Object.entries(HISTORIES)) {
      for (const commandType of SANDBOX_COMMAND_TYPES) {
        const key = `${state}/${commandType}`;
        const legal = LEGAL.has(key);
        it(`${legal ? 'allows' : 'rejects'} ${commandType} when ${state}`, () => {
          const run = () => sandboxDecider.decide(SAMPLE_COMMANDS[commandType], fold(sandboxDecider, history));
          if (legal) {
            const events = run();
            assert.equal(events.length, 1);
            // The event must move the state machine somewhere consistent.
            sandboxDecider.evolve(fold(sandboxDecider, history), events[0]);
          } else {
            assert.throws(run, (error: { code?: string }) =>
              [ErrorCode.InvalidState, ErrorCode.SandboxExists, ErrorCode.SandboxNotFound].includes(error.code as never),
            );
          }
        });
      }
    }
    it('has a table entry for exactly the legal pairs', () => {
      const fromTable = new Set(
        Object.entries(ALLOWED_FROM).flatMap(([command, states]) => states.map((s) => `${s}/${command}`)),
      );
      assert.deepEqual([...fromTable].sort(), [...LEGAL].sort());
    });
  });

  describe('evolve', () => {
    it('refuses a history that does not start with sandbox.requested', () => {
      assert.throws(() => fold(sandboxDecider, [started]));
    });
    it('remembers the host a sandbox was scheduled on', () => {
      const state = fold(sandboxDecider, HISTORIES.starting);
      assert.equal(state.status !== 'initial' && state.hostId, 'h1');
      assert.equal(state.status !== 'initial' && state.bootId, 'b1');
    });
  });
});

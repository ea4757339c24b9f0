import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SandboxSpec } from '@wrenn/contracts';
import { ulid } from 'ulid';
import type { SandboxRuntime } from '@wrenn/host-agent/dist/runtime/sandbox-runtime';
import { START_STEPS } from '@wrenn/host-agent/dist/sandbox/lifecycle';
import { PAUSE_ORDER, SaveStepName } from '@wrenn/host-agent/dist/sandbox/save';
import { agentHostState, hostChanges } from './host-leaks';

/** A runtime under test, made with a checkpoint hook that calls `failAt` before each start and pause step. */
export interface StartFailureSubject {
  runtime: SandboxRuntime;
  agentKey: string;
  /** The runtime's state dir: every file in it is compared. */
  stateDir: string;
  /** A spec this runtime starts. */
  spec(sandboxId: string): SandboxSpec;
  /**
   * Files of a sandbox dir that outlives a failed start (a paused microVM's) that are the
   * driver's scratch, made again at every launch, not resources: left out of the comparison.
   */
  scratchFiles?: RegExp;
  /**
   * The pause step this runtime cannot undo (its `final` part), if any: a failure before it is
   * unwound, one from it on is left for a retry. Without one, everything before the record is.
   */
  finalPauseStep?: SaveStepName;
  /** Stops the runtime and removes what the subject made. */
  close(): Promise<void>;
}

/** The checkpoint hook the subject's runtime must be made with: fails the start at the armed step. */
export interface FailureSwitch {
  hook(step: string): void;
}

/**
 * One test body for every driver: a failure injected before each step of the start (the
 * lifecycle's own list, so a new step is covered without a change here), of a create and of a
 * resume, leaves the host exactly as it was before the attempt — no netns, firewall element, mount,
 * loop device, cgroup, process or file more or less — and a resume's snapshot stays usable. The
 * same for a pause (the save's own order), up to where a failure is no longer unwound.
 */
export function describeStartFailures(title: string, make: (failures: FailureSwitch) => Promise<StartFailureSubject>, options: { skip?: string | boolean } = {}): void {
  describe(title, { skip: options.skip, timeout: 600_000 }, () => {
    let armed: string | undefined;
    const reached: string[] = [];
    const failures: FailureSwitch = {
      hook(step) {
        if (step !== armed) return;
        reached.push(step);
        throw new Error(`injected failure at ${step}`);
      },
    };
    let subject: StartFailureSubject;
    const steps = START_STEPS.map((s) => `start:${s.name}`);
    const newId = () => `sb_${ulid().toLowerCase()}`;
    const state = () => {
      const now = agentHostState(subject.agentKey, subject.stateDir);
      const scratch = subject.scratchFiles;
      return scratch ? { ...now, files: now.files.filter((f) => !scratch.test(f)) } : now;
    };

    before(async () => {
      subject = await make(failures);
    });
    after(async () => {
      await subject?.close();
    });

    it('the start has steps to fail at', () => {
      assert.ok(steps.length >= 8, steps.join(', '));
    });

    it('create: a failure at any step leaves nothing behind', async () => {
      for (const step of steps) {
        const id = newId();
        const before = state();
        armed = step;
        await assert.rejects(subject.runtime.create(subject.spec(id)), new RegExp(`injected failure at ${step}`));
        armed = undefined;
        assert.deepEqual(hostChanges(before, state()), {}, `the host after a create failed at ${step}`);
        assert.ok(!(await subject.runtime.list()).includes(id), `not listed after a failure at ${step}`);
      }
      assert.deepEqual(reached, steps, 'every step was reached and failed');
      // And the same runtime still creates and destroys a sandbox cleanly.
      const id = newId();
      const before = state();
      await subject.runtime.create(subject.spec(id));
      await subject.runtime.destroy(id);
      assert.deepEqual(hostChanges(before, state()), {}, 'the host after a create and its destroy');
    });

    it('resume: a failure at any step leaves nothing behind and the snapshot resumable', async () => {
      reached.length = 0;
      const id = newId();
      const spec = subject.spec(id);
      await subject.runtime.create(spec);
      const { snapshotRef } = await subject.runtime.pause(id);
      for (const step of steps) {
        const before = state();
        armed = step;
        await assert.rejects(subject.runtime.resume(spec, snapshotRef), new RegExp(`injected failure at ${step}`));
        armed = undefined;
        assert.deepEqual(hostChanges(before, state()), {}, `the host after a resume failed at ${step}`);
        assert.deepEqual((await subject.runtime.listPaused()).filter((p) => p === id), [id], `still paused after a failure at ${step}`);
      }
      assert.deepEqual(reached, steps, 'every step was reached and failed');
      await subject.runtime.resume(spec, snapshotRef);
      assert.ok((await subject.runtime.list()).includes(id), 'the retried resume runs');
      await subject.runtime.destroy(id);
    });

    it('pause: a failure at any step that is unwound leaves the sandbox running and the host as it was', async () => {
      reached.length = 0;
      // The save's own order, up to and including the checkpoint before the first step a failure no
      // longer unwinds (the record, or a step the runtime cannot undo).
      const pauseSteps = PAUSE_ORDER.slice(0, PAUSE_ORDER.indexOf(subject.finalPauseStep ?? 'record') + 1).map((s) => `pause:${s}`);
      const id = newId();
      const spec = subject.spec(id);
      await subject.runtime.create(spec);
      // Paused and resumed once: what a first pause makes for good (a snapshot dir) is there before.
      await subject.runtime.resume(spec, (await subject.runtime.pause(id)).snapshotRef);
      for (const step of pauseSteps) {
        const before = state();
        armed = step;
        await assert.rejects(subject.runtime.pause(id), new RegExp(`injected failure at ${step}`));
        armed = undefined;
        assert.deepEqual(hostChanges(before, state()), {}, `the host after a pause failed at ${step}`);
        assert.ok((await subject.runtime.list()).includes(id), `still running after a failure at ${step}`);
        assert.ok(!(await subject.runtime.listPaused()).includes(id), `not paused after a failure at ${step}`);
      }
      assert.deepEqual(reached, pauseSteps, 'every step was reached and failed');
      const { snapshotRef } = await subject.runtime.pause(id);
      await subject.runtime.resume(spec, snapshotRef);
      assert.ok((await subject.runtime.list()).includes(id), 'the pause after them and its resume work');
      await subject.runtime.destroy(id);
    });
  });
}

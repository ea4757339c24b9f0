import { ENVD_PORT, SandboxSpec } from '@wrenn/contracts';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CgroupLimits, SandboxCgroup } from '../cgroups';
import { CleanupStack } from '../cleanup/cleanup-stack';
import type { EnvdSessions } from '../envd-client/envd-session';
import { envdTokenEnv } from '../envd-client/envd-token';
import type { RootfsStore } from '../rootfs/rootfs-store';
import type { IdsView, SandboxDriver, SlotView } from '../runtime/driver';
import { timeStep } from './step-timings';

/**
 * The order in which a sandbox is started (created, or resumed from a snapshot) and torn down,
 * once for every runtime. Each step acquires one host resource and names its undo; a failure
 * unwinds exactly the steps that ran, in reverse (the cleanup stack); destroying a sandbox is
 * the same unwinding, of a stack rebuilt from the sandbox's record (so it is the same after an
 * agent restart as before it).
 *
 *   sandbox dir → network slot → rootfs → cgroup → id range → boot → envd session → record
 *
 * The egress policy of the slot comes after, in the orchestrator (it holds the policies).
 *
 * Every undo clears what it released from the state, so a teardown that failed halfway can be
 * run again for the rest; and nothing the sandbox's processes may still use (slot, root, cgroup,
 * ids, dir) is released while the kill of those processes has not succeeded.
 */

/** The host resources a start takes, each behind its own interface. */
export interface StartResources<Source, Root, Booted, Memory, Slot extends SlotView> {
  slots: { acquire(): Promise<Slot>; release(index: number): Promise<void> };
  rootfs: RootfsStore<Source, Root>;
  cgroups: { create(name: string, limits: CgroupLimits): Promise<SandboxCgroup>; remove(name: string): Promise<void> };
  ids: { acquire(owner: string, hint?: number): Promise<IdsView>; release(number: number): Promise<void> };
  driver: SandboxDriver<Root, Booted, Memory>;
  /** Absent: sandboxes of this host run no envd (a test runtime). */
  envd?: EnvdSessions;
  /** Writes the sandbox's record; only a complete sandbox has one. */
  record(start: StartState<Source, Root, Booted, Memory, Slot>): Promise<void>;
}

/** What a start has acquired so far; what its undos release. */
export interface StartState<Source, Root, Booted, Memory, Slot extends SlotView> {
  spec: SandboxSpec;
  /** The cgroup's and id range's owner: the sandbox id (a warm sandbox's pool key before it is claimed). */
  name: string;
  dir: string;
  source: Source;
  memory?: Memory;
  envd: {
    token: string;
    /** envd keeps the token it holds (a resumed microVM). */
    held?: boolean;
    /** The token a guest restored from a template's memory still holds. */
    current?: string;
    /** The guest needs its own identity set through envd (restored from a template's memory). */
    identity?: boolean;
  };
  /** The start made the dir (a resumed microVM's dir is there before and stays after a failure). */
  dirCreated?: boolean;
  slot?: Slot;
  root?: Root;
  cgroup?: SandboxCgroup;
  ids?: IdsView;
  booted?: Booted;
  /** A pause emptied the sandbox's cgroup before the teardown: no process is left to search for. */
  cgroupEmptied?: boolean;
}

type AnyState = StartState<unknown, unknown, unknown, unknown, SlotView>;
type AnyResources = StartResources<unknown, unknown, unknown, unknown, SlotView>;

export interface Step {
  readonly name: string;
  run(state: AnyState, resources: AnyResources): Promise<void>;
  /** Releases what `run` acquired; safe on a state where it acquired nothing. */
  undo?(state: AnyState, resources: AnyResources): Promise<void>;
}

/** The start of a sandbox, in order. A new step here is covered by the failure-injection tests. */
export const START_STEPS: readonly Step[] = [
  {
    name: 'sandbox dir',
    async run(s) {
      if (existsSync(s.dir)) return;
      await mkdir(dirname(s.dir), { recursive: true, mode: 0o700 });
      await mkdir(s.dir, { mode: 0o700 });
      s.dirCreated = true;
    },
    async undo(s, r) {
      if (s.dirCreated && !s.booted) await r.rootfs.discardDir(s.dir, s.source);
    },
  },
  {
    name: 'network slot',
    async run(s, r) {
      s.slot = await r.slots.acquire();
    },
    async undo(s, r) {
      if (!s.slot || s.booted) return;
      await r.slots.release(s.slot.index);
      s.slot = undefined;
    },
  },
  {
    name: 'rootfs',
    async run(s, r) {
      s.root = await r.rootfs.make(s.spec, s.dir, s.source);
    },
    async undo(s, r) {
      if (!s.root || s.booted) return;
      await r.rootfs.release(s.root);
      s.root = undefined;
    },
  },
  {
    name: 'cgroup',
    async run(s, r) {
      s.cgroup = await r.cgroups.create(s.name, r.driver.cgroupLimits(s.spec, s.root));
    },
    async undo(s, r) {
      // By name: a sandbox re-adopted after a restart has no cgroup paths in its record.
      if (!s.booted) await r.cgroups.remove(s.name);
    },
  },
  {
    name: 'id range',
    async run(s, r) {
      s.ids = await r.ids.acquire(s.name, s.slot!.index);
    },
    async undo(s, r) {
      if (!s.ids || s.booted) return;
      await r.ids.release(s.ids.number);
      s.ids = undefined;
    },
  },
  {
    name: 'boot',
    async run(s, r) {
      const env = r.driver.envdToken === 'at-boot' && !s.envd.held ? envdTokenEnv(s.envd.token) : {};
      s.booted = await r.driver.boot({ spec: s.spec, dir: s.dir, slot: s.slot!, root: s.root, cgroup: s.cgroup!, ids: s.ids!, env, memory: s.memory });
    },
    async undo(s, r) {
      // Unbooted too: a half-made sandbox's processes are found by its dir.
      await r.driver.kill(s.booted, s.dir, { scan: !s.cgroupEmptied });
      s.booted = undefined;
    },
  },
  {
    name: 'envd session',
    async run(s, r) {
      if (!r.envd) return;
      await r.envd.open({
        url: envdUrl(s.slot!),
        token: s.envd.token,
        delivery: s.envd.held ? 'held' : r.driver.envdToken,
        current: s.envd.current,
        identity: s.envd.identity ? { sandboxId: s.spec.sandboxId, nameservers: s.slot!.nameservers } : undefined,
      });
    },
  },
  {
    name: 'record',
    async run(s, r) {
      await r.record(s);
    },
  },
];

export type StartStepName = (typeof START_STEPS)[number]['name'];

/** Where a sandbox's envd answers: its own address on its slot. */
export function envdUrl(slot: Pick<SlotView, 'sandboxIp'>): string {
  return `http://${slot.sandboxIp}:${ENVD_PORT}`;
}

export interface StartOptions {
  /** Called before each step with its name; a throw fails the start there (failure injection). */
  checkpoint?: (step: string) => void | Promise<void>;
}

/**
 * Runs the start's steps; on a failure unwinds what ran and rethrows. Answers the stack of
 * undos, which is the started sandbox's teardown.
 */
export async function start<Source, Root, Booted, Memory, Slot extends SlotView>(
  state: StartState<Source, Root, Booted, Memory, Slot>,
  resources: StartResources<Source, Root, Booted, Memory, Slot>,
  options: StartOptions = {},
): Promise<CleanupStack> {
  const stack = new CleanupStack();
  const s = state as AnyState;
  const r = resources as unknown as AnyResources;
  try {
    for (const step of START_STEPS) {
      await options.checkpoint?.(step.name);
      await timeStep('start', step.name, () => step.run(s, r));
      const undo = step.undo;
      if (undo) stack.push(step.name, () => timeStep('teardown', step.name, () => undo(s, r)));
    }
    return stack;
  } catch (error) {
    return stack.rollback(error);
  }
}

/**
 * Released side by side by a teardown, once the kill has succeeded: none of them waits on
 * another (each undo still checks the kill left nothing running). The dir goes after all of
 * them (the disk is mounted under it); the kill before all of them.
 */
const RELEASED_TOGETHER: ReadonlySet<string> = new Set(['network slot', 'rootfs', 'cgroup', 'id range']);

/**
 * The teardown of a started sandbox as the stack its start would have left, rebuilt from what
 * its record holds (after an agent restart, or for a sandbox whose start this agent did not
 * run). Running it destroys the sandbox: processes, then id range, cgroup, root and slot side by
 * side (RELEASED_TOGETHER), then the dir.
 */
export function teardown<Source, Root, Booted, Memory, Slot extends SlotView>(
  state: StartState<Source, Root, Booted, Memory, Slot>,
  resources: StartResources<Source, Root, Booted, Memory, Slot>,
  options: { skip?: StartStepName[] } = {},
): CleanupStack {
  const stack = new CleanupStack();
  const s = state as AnyState;
  const r = resources as unknown as AnyResources;
  const timed = (step: Step) => () => timeStep('teardown', step.name, () => step.undo!(s, r));
  const steps = START_STEPS.filter((step) => step.undo && !options.skip?.includes(step.name));
  const together = steps.filter((step) => RELEASED_TOGETHER.has(step.name));
  for (const step of steps) {
    if (!RELEASED_TOGETHER.has(step.name)) stack.push(step.name, timed(step));
    else if (step === together[0]) stack.push(together.map((t) => t.name).join(', '), () => releaseTogether(together.map((t) => ({ name: t.name, undo: timed(t) }))));
  }
  return stack;
}

/** Runs every undo at once and waits for all of them; throws one error naming each that failed. */
async function releaseTogether(undos: Array<{ name: string; undo: () => Promise<void> }>): Promise<void> {
  const results = await Promise.allSettled(undos.map((u) => u.undo()));
  const errors = results.flatMap((result, i) => (result.status === 'rejected' ? [new Error(`${undos[i].name}: ${(result.reason as Error)?.message ?? result.reason}`, { cause: result.reason })] : []));
  if (errors.length === 1) throw errors[0];
  if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
}

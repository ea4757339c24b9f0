import { CleanupStack } from '../cleanup/cleanup-stack';
import type { SandboxDriver } from '../runtime/driver';
import { timeStep } from './step-timings';

/**
 * The order in which a running sandbox is saved, once for every runtime: paused (a snapshot, to
 * resume it from) or made into a template (what new sandboxes start from).
 *
 *   pause:    freeze → snapshot memory → snapshot disk → record → release
 *   template: freeze → snapshot memory → snapshot disk → thaw → record
 *
 * A runtime says what each step does for it (`SaveParts`); the order and what a failure undoes
 * are here. A failure unwinds the steps that ran, in reverse: the snapshot's files go and the
 * sandbox is thawed, so it runs on as before. Two points end the unwinding:
 * - a step marked `final` cannot be undone (a namespace sandbox's processes are killed before
 *   its disk is taken): from its start, a failure leaves what is saved for a retry (`from`) to
 *   complete;
 * - `record` is the commit: once the snapshot or template is recorded, it stays, and `release`
 *   (the unwinding of the running sandbox's start, keeping the snapshot) is retried, not undone.
 */
export const SAVE_STEPS = ['freeze', 'snapshot memory', 'snapshot disk', 'thaw', 'record', 'release'] as const;
export type SaveStepName = (typeof SAVE_STEPS)[number];

export const PAUSE_ORDER: readonly SaveStepName[] = ['freeze', 'snapshot memory', 'snapshot disk', 'record', 'release'];
export const TEMPLATE_ORDER: readonly SaveStepName[] = ['freeze', 'snapshot memory', 'snapshot disk', 'thaw', 'record'];

export interface SavePart {
  /** All or nothing: what a failed run had done, it undoes itself. */
  run(): Promise<void>;
  /** Undoes a completed run while the save is still being unwound on failure. */
  undo?(): Promise<void>;
  /** Cannot be undone: once it begins, nothing before it is unwound either. */
  final?: boolean;
}

/** What each step of an order is for one runtime. `thaw` is also what undoes `freeze`. */
export type SaveParts = { freeze: SavePart; thaw: SavePart } & { [step in SaveStepName]?: SavePart };

export interface SaveOptions {
  /** Called before each step with its name; a throw fails the save there (failure injection). */
  checkpoint?: (step: SaveStepName) => void | Promise<void>;
  /** Runs the order from this step on: the completion of a save cut short at a final step. */
  from?: SaveStepName;
}

/**
 * Freeze and thaw of a save: the driver's own when it has them (a microVM's vCPUs: the VMM must
 * keep answering to write the snapshot), else the sandbox's cgroup freezer, which stops every
 * process of the sandbox where it stands.
 */
export function freezeParts<Booted>(
  // Any root and memory: only freeze and thaw are used.
  driver: SandboxDriver<any, Booted, any>,
  booted: Booted,
  cgroups: { freeze(name: string): Promise<void>; thaw(name: string): Promise<void> },
  name: string,
): Pick<SaveParts, 'freeze' | 'thaw'> {
  if (driver.freeze && driver.thaw) {
    const { freeze, thaw } = { freeze: driver.freeze.bind(driver), thaw: driver.thaw.bind(driver) };
    return { freeze: { run: () => freeze(booted) }, thaw: { run: () => thaw(booted) } };
  }
  return { freeze: { run: () => cgroups.freeze(name) }, thaw: { run: () => cgroups.thaw(name) } };
}

/** Runs `order` with the runtime's parts; on a failure unwinds what may be unwound and rethrows. */
export async function save(order: readonly SaveStepName[], parts: SaveParts, options: SaveOptions = {}): Promise<void> {
  let stack = new CleanupStack();
  let frozen = false;
  const steps = options.from ? order.slice(order.indexOf(options.from)) : order;
  try {
    for (const name of steps) {
      const part = parts[name];
      if (!part) throw new Error(`the runtime has no "${name}" step`);
      await options.checkpoint?.(name);
      // Nothing before a final step is undone once it begins (a fresh stack drops those undos).
      if (part.final) stack = new CleanupStack();
      await timeStep('save', name, () => part.run());
      if (name === 'freeze') {
        frozen = true;
        stack.push(name, async () => {
          if (frozen) await parts.thaw.run();
        });
      } else if (name === 'thaw') {
        frozen = false;
      } else if (name === 'record') {
        stack = new CleanupStack();
      } else if (part.undo && !part.final) {
        stack.push(name, part.undo);
      }
    }
  } catch (error) {
    return stack.rollback(error);
  }
}

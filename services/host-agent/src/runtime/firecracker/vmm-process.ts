import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isSameProcess, isZombieOrGone, signal, startTime, waitGone } from '../namespace/proc';
import { runSandboxHelper } from '../namespace/sandbox-launcher';
import { hostPathInJail, IN_JAIL, jailDirOf, renderVmmJailPlan, VmmJailRequest, vmmJailPlan } from './vmm-jail';

export { vmmInstanceId } from './vmm-jail';

/** A running VMM: identified by pid and start time, since pids are reused. */
export interface VmmProcess {
  pid: number;
  startTime: string;
  /** The API socket's host path (inside the jail dir). */
  apiSocket: string;
  logPath: string;
}

export const VMM_LOG = 'firecracker.log';

/**
 * Starts a VMM jailed by the native helper (see vmm-jail.ts): in its own cgroups, the slot's
 * netns, new mount, pid and ipc namespaces, pivoted into the jail under the sandbox's dir, as
 * an unprivileged host id, with only stdio open. Answers once the VMM runs (the helper's status
 * pipe closes on its exec). The VMM is nobody's child: it survives the request that started it
 * and an agent restart, and a restarted agent re-adopts it by pid + start time.
 */
export async function launchVmm(r: VmmJailRequest): Promise<VmmProcess> {
  const apiSocket = hostPathInJail(r.sandboxDir, IN_JAIL.apiSocket);
  const logPath = join(r.sandboxDir, VMM_LOG);
  // A Unix socket's path has room for 107 bytes; a longer one would fail as "not found".
  if (Buffer.byteLength(apiSocket) > 107) throw new Error(`the VMM's API socket path is too long for a Unix socket: ${apiSocket}`);
  await mkdir(jailDirOf(r.sandboxDir), { recursive: true, mode: 0o755 });
  // Firecracker refuses to start on an existing socket path.
  await rm(apiSocket, { force: true });
  const { pid } = await runSandboxHelper(renderVmmJailPlan(vmmJailPlan(r)), jailDirOf(r.sandboxDir), logPath);
  const started = await startTime(pid);
  if (!started) throw new Error(`${r.binary} exited at once (see ${logPath})`);
  return { pid, startTime: started, apiSocket, logPath };
}

/** Ours (same start time) and not a zombie waiting for whichever process adopted it to reap it. */
export async function isVmmAlive(p: Pick<VmmProcess, 'pid' | 'startTime'>): Promise<boolean> {
  return (await isSameProcess(p.pid, p.startTime)) && !(await isZombieOrGone(p.pid));
}

/** Kills the VMM (the guest goes with it) and waits until it is gone; gone already is fine. */
export async function stopVmm(p: Pick<VmmProcess, 'pid' | 'startTime'>, timeoutMs = 5000): Promise<void> {
  if (!(await isVmmAlive(p))) return;
  signal(p.pid, 'SIGKILL');
  if (!(await waitGone(p.pid, timeoutMs))) throw new Error(`VMM pid ${p.pid} survived SIGKILL`);
}

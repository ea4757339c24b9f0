import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isSameProcess, isZombieOrGone, signal, startTime, waitGone } from '../namespace/proc';

/** Name of the root drive's node in the stable directory every VMM sees. */
export const STABLE_ROOTFS_NAME = 'rootfs.ext4';

export interface VmmLaunch {
  /** The `firecracker` binary (or, in tests, a stand-in that serves the same API). */
  binary: string;
  sandboxId: string;
  /** The sandbox's state dir: API socket and log go here. */
  dir: string;
  /** Network namespace (slot) the VMM runs in: its TAP is there. */
  netnsName: string;
  /**
   * Directory that holds the root drive's node under the same path for every VMM: a tmpfs
   * mounted there in the VMM's own mount namespace, with a symlink to this sandbox's device.
   * The drive path recorded in a snapshot is this one, so a snapshot restores on any slot.
   */
  stableDir: string;
  rootfsDevice: string;
}

/** A running VMM: identified by pid and start time, since pids are reused. */
export interface VmmProcess {
  pid: number;
  startTime: string;
  apiSocket: string;
  logPath: string;
}

export const API_SOCKET = 'firecracker.sock';
export const VMM_LOG = 'firecracker.log';

/**
 * In the VMM's new mount namespace: the stable dir becomes a private tmpfs holding the root
 * drive's symlink (the host's directory stays empty), then `ip netns exec` enters the slot and
 * execs the VMM — every step an exec, so the pid the agent records is the VMM's own.
 * Arguments: $1 stable dir, $2 root device, $3 netns, then the VMM command.
 */
const VMM_ENTRY_SCRIPT = String.raw`
set -eu
stable=$1; rootfs=$2; netns=$3
shift 3
mkdir -p "$stable"
mount -t tmpfs -o size=64k,mode=0755,nosuid,nodev wrenn-vmm "$stable"
ln -s "$rootfs" "$stable/rootfs.ext4"
exec ip netns exec "$netns" "$@"
`;

/** Firecracker's `--id` takes letters, digits and "-" only; sandbox ids have "_". */
export function vmmInstanceId(sandboxId: string): string {
  return sandboxId.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 64);
}

/**
 * Starts a VMM detached from the agent (own session, no pipes to it): it survives the request
 * that started it and an agent restart, and a restarted agent re-adopts it by pid + start time.
 */
export async function launchVmm(o: VmmLaunch): Promise<VmmProcess> {
  const apiSocket = join(o.dir, API_SOCKET);
  const logPath = join(o.dir, VMM_LOG);
  // Firecracker refuses to start on an existing socket path.
  await rm(apiSocket, { force: true });
  const log = openSync(logPath, 'a');
  let pid: number | undefined;
  try {
    const child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', VMM_ENTRY_SCRIPT, 'wrenn-vmm', o.stableDir, o.rootfsDevice, o.netnsName, o.binary, '--api-sock', apiSocket, '--id', vmmInstanceId(o.sandboxId)],
      { detached: true, stdio: ['ignore', log, log], env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    child.unref();
    pid = child.pid;
    if (!pid) throw new Error(`could not start ${o.binary}`);
  } finally {
    closeSync(log);
  }
  const started = await startTime(pid);
  if (!started) throw new Error(`${o.binary} exited at once (see ${logPath})`);
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

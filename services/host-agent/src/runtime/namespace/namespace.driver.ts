import { ENVD_PORT, SandboxSpec } from '@wrenn/contracts';
import { chown, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupLimits } from '../../cgroups';
import type { BootRequest, SandboxDriver } from '../driver';
import { ensureMountPoints, mountPoints } from './mount-points';
import { childrenOf, isSameProcess, signal, startTime, waitGone } from './proc';
import { launchSandbox } from './sandbox-launcher';

/** A namespace sandbox's root as its driver needs it: the overlay's layers and host dirs. */
export interface NamespaceRoot {
  /** Read-only layers, top first (template layers, then the base image). */
  lower: string[];
  /** The mounted disk that holds upper/ and work/. */
  disk: string;
  upper: string;
  merged: string;
  stage: string;
}

/** What a started namespace sandbox is: its PID 1 (with its start time, against pid reuse) and the helper above it. */
export interface NamespaceBooted {
  initPid: number;
  initStart: string;
  supervisorPid: number;
}

export interface NamespaceDriverOptions {
  /** Most processes one sandbox may have (fork bombs stop here). */
  pidsMax?: number;
  /** Node binary and envd bundle dir bound read-only into every sandbox; envd then runs as its init's child. */
  envd?: { nodeBinary: string; bundleDir: string };
  /**
   * The init serves the host's envd on a socket in the sandbox's dir (initSocketPath) instead of
   * running a program: no Node, no envd bundle, no tini in the sandbox.
   */
  initAgent?: boolean;
}

/** Where a sandbox's init serves the host (agent mode): host root's alone, in the sandbox's 0700 dir. */
export function initSocketPath(dir: string): string {
  return join(dir, 'init.sock');
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Sandboxes as Linux namespaces: the native helper (user namespace with its own id range,
 * seccomp, idmapped layers) pivot_roots into the overlay and runs tini as PID 1, with envd as
 * its child. The processes do not belong to the agent: they survive an agent restart.
 */
export class NamespaceDriver implements SandboxDriver<NamespaceRoot, NamespaceBooted> {
  readonly kind = 'namespace' as const;
  readonly envdToken = 'at-boot' as const;

  constructor(private readonly options: NamespaceDriverOptions = {}) {}

  get hasEnvd(): boolean {
    return !!this.options.envd;
  }

  cgroupLimits(spec: SandboxSpec): CgroupLimits {
    return { vcpus: spec.vcpus, memoryMb: spec.memoryMb, pidsMax: this.options.pidsMax ?? 1024 };
  }

  async boot(request: BootRequest<NamespaceRoot, never>): Promise<NamespaceBooted> {
    const { ids, cgroup, root, dir } = request;
    // The sandbox's root reaches its own root filesystem through this dir (0700: no one else
    // does), and envd, as that root, moves the commands it starts into the limited groups.
    await chown(dir, ids.hostRoot, ids.hostRoot);
    await Promise.all(cgroup.userProcsFiles.map((file) => chown(file, ids.hostRoot, ids.hostRoot)));
    const agent = this.options.initAgent === true;
    await ensureMountPoints(root.upper, mountPoints(cgroup.userProcsFiles.length, { envd: !agent && !!this.options.envd }));
    const envd = agent ? undefined : this.options.envd;
    const launched = launchSandbox({
      ids,
      cgroupProcs: cgroup.procsFiles,
      netnsPath: request.slot.netnsPath,
      lower: root.lower,
      disk: root.disk,
      merged: root.merged,
      stage: root.stage,
      hostname: request.spec.sandboxId,
      binds: [
        ...(envd
          ? [
              { source: envd.nodeBinary, target: 'opt/wrenn/bin/node', readonly: true },
              { source: envd.bundleDir, target: 'opt/wrenn/envd', readonly: true },
            ]
          : []),
        ...cgroup.userProcsFiles.map((file, i) => ({ source: file, target: `run/wrenn/cgroup/${i + 1}.procs`, readonly: false })),
      ],
      // In agent mode the init execs nothing: no environment to give, and no token in it.
      env: agent ? {} : { PATH: DEFAULT_PATH, ENVD_PORT: String(ENVD_PORT), ...request.env },
      argv: agent ? [] : ['/usr/bin/tini', '-s', '--', ...(envd ? ['/opt/wrenn/bin/node', '/opt/wrenn/envd/envd.js'] : ['/bin/sleep', 'infinity'])],
      agentSocket: agent ? initSocketPath(dir) : undefined,
      consoleLog: join(dir, 'console.log'),
    });
    let started: { supervisorPid: number; initPid: number } | undefined;
    try {
      started = await launched;
      const initStart = await startTime(started.initPid);
      if (!initStart) throw new Error('sandbox init exited during start');
      return { initPid: started.initPid, initStart, supervisorPid: started.supervisorPid };
    } catch (error) {
      // A start that timed out still has its helper and init killed (found by its dir if it never answered).
      if (started) await this.killStarted(started);
      else await killByDir(dir);
      throw error;
    }
  }

  /**
   * Killing PID 1 of a pid namespace kills every process in it; its helper, outside, reaps it and
   * exits. A booted sandbox's helper is then checked by its recorded pid (no /proc walk: that
   * costs tens of milliseconds on a busy host, on every teardown); a half-made one's (no
   * `booted`) is found by its dir, unless the caller has emptied the sandbox's cgroup already.
   */
  async kill(booted: NamespaceBooted | undefined, dir: string, options: { scan?: boolean } = {}): Promise<void> {
    if (booted && (await isSameProcess(booted.initPid, booted.initStart))) {
      signal(booted.initPid, 'SIGKILL');
      if (!(await waitGone(booted.initPid, 5000))) throw new Error(`pid ${booted.initPid} survived SIGKILL`);
    }
    if (booted) await killHelper(booted.supervisorPid, dir);
    else if (options.scan !== false) await killByDir(dir);
  }

  isAlive(booted: NamespaceBooted): Promise<boolean> {
    return isSameProcess(booted.initPid, booted.initStart);
  }

  private async killStarted(found: { supervisorPid: number; initPid: number }): Promise<void> {
    signal(found.initPid, 'SIGKILL');
    signal(found.supervisorPid, 'SIGKILL');
    await Promise.all([found.initPid, found.supervisorPid].map((p) => waitGone(p, 5000)));
  }
}

/** The sandbox helper's argv is its path and the sandbox's merged dir (see launchSandbox). */
async function killByDir(dir: string): Promise<void> {
  for (const entry of await readdir('/proc')) {
    if (/^\d+$/.test(entry)) await killHelper(Number(entry), dir);
  }
}

/**
 * Kills `pid` and its children if it is the helper of the sandbox at `dir` (its command line
 * says so: a recorded pid may have been reused by another process since), and waits until it
 * is gone.
 */
async function killHelper(pid: number, dir: string): Promise<void> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.endsWith(`/wrenn-sandbox\0${dir}/merged\0`)) return;
  for (const child of await childrenOf(pid)) signal(child, 'SIGKILL');
  signal(pid, 'SIGKILL');
  if (!(await waitGone(pid, 5000))) throw new Error(`sandbox helper ${pid} survived SIGKILL`);
}

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the host holds for one sandbox, read straight from the kernel and the agent's state dir. */
export interface HostTraces {
  process: boolean;
  mounts: string[];
  netns: boolean;
  cgroups: string[];
  sandboxDir: boolean;
  snapshotDir: boolean;
}

export interface SandboxMetaOnHost {
  initPid: number;
  network: { index: number };
}

/** The agent's naming key (sha-256 of the host id, 5 hex digits), as its netns and cgroups use it. */
export function agentKey(hostId: string): string {
  return createHash('sha256').update(hostId).digest('hex').slice(0, 5);
}

export function readMeta(stateDir: string, sandboxId: string): SandboxMetaOnHost {
  return JSON.parse(readFileSync(join(stateDir, 'sandboxes', sandboxId, 'meta.json'), 'utf8'));
}

function cgroupDirs(key: string, sandboxId: string): string[] {
  const found: string[] = [];
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    const group = join('/sys/fs/cgroup', controller, `wrenn-${key}`);
    if (existsSync(group) && readdirSync(group).some((name) => name.includes(sandboxId))) found.push(controller);
  }
  return found;
}

/**
 * Mounts naming the sandbox in any mount namespace on the host (its overlay lives in the
 * sandbox's own namespace, so the host's table alone would not show it).
 */
function mountsOf(sandboxId: string): string[] {
  const found = new Set<string>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let table = '';
    try {
      table = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    for (const line of table.split('\n')) if (line.includes(sandboxId)) found.add(line.split(' ').slice(4).join(' '));
  }
  return [...found];
}

export function traces(stateDir: string, hostId: string, sandboxId: string, meta: SandboxMetaOnHost): HostTraces {
  const key = agentKey(hostId);
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .some((line) => line.split(' ')[0] === `wrenn-${key}-${meta.network.index}`);
  return {
    process: existsSync(`/proc/${meta.initPid}`),
    mounts: mountsOf(sandboxId),
    netns,
    cgroups: cgroupDirs(key, sandboxId),
    sandboxDir: existsSync(join(stateDir, 'sandboxes', sandboxId)),
    snapshotDir: existsSync(join(stateDir, 'snapshots', sandboxId)),
  };
}

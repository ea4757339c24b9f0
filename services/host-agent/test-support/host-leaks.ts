import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What one agent (its key, its state dir) holds on the host, as comparable lists. */
export interface AgentHostState {
  netns: string[];
  /** The agent's nftables table, line by line (its sets' elements are the sandboxes' slots). */
  firewall: string[];
  mounts: string[];
  loops: string[];
  cgroups: string[];
  processes: string[];
  files: string[];
}

function lines(cmd: string, args: string[]): string[] {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
    const path = join(dir, name);
    out.push(`${prefix}${name}`);
    try {
      if (statSync(path).isDirectory() && !statSync(path).isSymbolicLink?.()) out.push(...walk(path, `${prefix}${name}/`));
    } catch {
      // gone while listed
    }
  }
  return out;
}

/** Every cgroup directory below the agent's group, in each hierarchy (v1 controllers or v2). */
function cgroupsOf(group: string, base = '/sys/fs/cgroup'): string[] {
  const roots = existsSync(join(base, 'cgroup.controllers')) ? [base] : readdirSync(base).map((c) => join(base, c));
  return roots.flatMap((root) => {
    const dir = join(root, group);
    try {
      return statSync(dir).isDirectory() ? walk(dir).filter((p) => statSync(join(dir, p)).isDirectory()).map((p) => `${root}/${group}/${p}`) : [];
    } catch {
      return [];
    }
  });
}

/** Processes in the agent's cgroups or naming its state dir (a sandbox helper, a VMM, a page server). */
function processesOf(group: string, stateDir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const cgroup = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      if (cmdline.includes(stateDir) || cgroup.includes(`/${group}/`)) out.push(`${entry} ${cmdline.replace(/\0/g, ' ').trim()}`);
    } catch {
      // exited while looked at
    }
  }
  return out.sort();
}

/**
 * The host as one agent sees it: network namespaces and the nftables table named by its key, mounts
 * and loop devices of files under its state dir, its cgroups, its processes, and every file in
 * its state dir. Two snapshots around an operation that failed must be equal.
 */
export function agentHostState(agentKey: string, stateDir: string): AgentHostState {
  const group = `wrenn-${agentKey}`;
  return {
    netns: lines('ip', ['netns', 'list']).filter((l) => l.startsWith(`${group}-`)),
    firewall: lines('nft', ['list', 'table', 'ip', `wrenn-${agentKey}`]).map((l) => l.trim()),
    mounts: readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .filter((l) => l.includes(stateDir))
      .sort(),
    loops: lines('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']).filter((l) => l.includes(stateDir)),
    cgroups: cgroupsOf(group).sort(),
    processes: processesOf(group, stateDir),
    files: walk(stateDir),
  };
}

/** What `after` holds that `before` did not (left) and what it lost (removed), by kind; empty when equal. */
export function hostChanges(before: AgentHostState, after: AgentHostState): Record<string, { left?: string[]; removed?: string[] }> {
  const changes: Record<string, { left?: string[]; removed?: string[] }> = {};
  for (const kind of Object.keys(before) as Array<keyof AgentHostState>) {
    const left = after[kind].filter((x) => !before[kind].includes(x));
    const removed = before[kind].filter((x) => !after[kind].includes(x));
    if (left.length || removed.length) changes[kind] = { ...(left.length ? { left } : {}), ...(removed.length ? { removed } : {}) };
  }
  return changes;
}

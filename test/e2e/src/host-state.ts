import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the kernel holds that a Wrenn (or a test of one) makes: network namespaces, host links,
 * firewall rules, mounts, loop and device-mapper devices, cgroups, state directories and
 * processes. The test runner (scripts/test.mjs) takes a snapshot before the run and the last
 * suite (zz-host-clean) one after it; `createdByRun` names what the run made and left.
 */
export interface HostState {
  netns: string[];
  links: string[];
  /**
   * `nft: table ip wrenn-<key>` for an agent's nftables table, and `ipv4 nat: -A WRENN-…` lines of
   * iptables filter and nat, IPv4 and IPv6, that name a Wrenn chain (what earlier versions made).
   */
  firewall: string[];
  /** `target fstype source` of mounts that name Wrenn. */
  mounts: string[];
  /** `/dev/loopN backing-file` of loop devices backed by a Wrenn or temporary file. */
  loops: string[];
  /** Device-mapper devices named `wrenn-…`. */
  dm: string[];
  /** `hierarchy/path` of cgroups named `wrenn-…` (v1 controllers and the v2 hierarchy). */
  cgroups: string[];
  /** State directories of test platforms in /tmp. */
  stateDirs: string[];
  /** `pid:starttime args` of processes that look like a sandbox's or a test platform's. */
  processes: string[];
}

/** The environment variable the runner gives every test file's process tree: `WRENN_TEST_RUN=<run id>`. */
export const RUN_MARKER = 'WRENN_TEST_RUN';

const WRENN = /wrenn|WRENN|sb_[0-9a-z]{26}/;
const VETH = /^wh[0-9a-z]+-\d+$/;

function lines(cmd: string, args: string[]): string[] {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}
const read = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};
const list = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/** Every cgroup hierarchy of the host: v1 controllers by name, v2 as `unified` (hybrid) or `v2` (pure). */
export function cgroupHierarchies(base = '/sys/fs/cgroup'): Array<{ name: string; dir: string }> {
  if (existsSync(join(base, 'cgroup.controllers'))) return [{ name: 'v2', dir: base }];
  return list(base)
    .filter((n) => {
      try {
        return statSync(join(base, n)).isDirectory() && existsSync(join(base, n, 'cgroup.procs'));
      } catch {
        return false;
      }
    })
    .map((n) => ({ name: n === 'unified' ? 'unified' : n, dir: join(base, n) }));
}

/** `wrenn-…` cgroups anywhere in a hierarchy, down to `depth` levels (a manager's group may sit under a slice). */
function wrennCgroups(dir: string, depth: number, prefix = ''): string[] {
  const out: string[] = [];
  for (const n of list(dir)) {
    const path = join(dir, n);
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      continue;
    }
    if (!isDir) continue;
    if (n.startsWith('wrenn-')) out.push(`${prefix}${n}`);
    else if (depth > 1) out.push(...wrennCgroups(path, depth - 1, `${prefix}${n}/`));
  }
  return out;
}

function processes(runId?: string): string[] {
  const out: string[] = [];
  for (const pid of list('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    const args = read(`/proc/${pid}/cmdline`).split('\0').filter(Boolean).join(' ');
    const stat = read(`/proc/${pid}/stat`);
    if (!stat || !args) continue; // gone, or a kernel thread
    const marked = runId !== undefined && read(`/proc/${pid}/environ`).split('\0').includes(`${RUN_MARKER}=${runId}`);
    if (!marked && !/\/tmp\/wrenn-t|sb_[0-9a-z]{26}/.test(args)) continue;
    // Field 22 (after the parenthesised name, which may hold spaces): start time since boot.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    // The agent's cgroup names its key: a sandbox of a Wrenn that was already here is not the run's.
    const group = read(`/proc/${pid}/cgroup`).match(/\/(wrenn-[a-z0-9]{1,6})(?:\/|$)/m)?.[1];
    out.push(`${pid}:${start}${group ? ` [${group}]` : ''} ${args.slice(0, 200)}`);
  }
  return out;
}

/** A snapshot of the Wrenn-looking state of this host (root: some of it is unreadable otherwise). */
export function snapshotHost(options: { runId?: string; cgroupBase?: string } = {}): HostState {
  const firewall: string[] = lines('nft', ['list', 'tables'])
    .filter((l) => /^table \S+ wrenn-[a-z0-9]{1,6}$/.test(l.trim()))
    .map((l) => `nft: ${l.trim()}`);
  for (const [family, bin] of [['ipv4', 'iptables'], ['ipv6', 'ip6tables']]) {
    for (const table of ['filter', 'nat']) {
      firewall.push(...lines(bin, ['-w', '-t', table, '-S']).filter((l) => WRENN.test(l)).map((l) => `${family} ${table}: ${l}`));
    }
  }
  const loops = list('/sys/block')
    .filter((n) => n.startsWith('loop'))
    .map((n) => [n, read(`/sys/block/${n}/loop/backing_file`).trim()])
    .filter(([, backing]) => backing && /wrenn|sb_[0-9a-z]{26}|^\/tmp\//.test(backing))
    .map(([n, backing]) => `/dev/${n} ${backing}`);
  return {
    netns: lines('ip', ['netns', 'list']).map((l) => l.split(' ')[0]).filter((n) => WRENN.test(n)),
    links: lines('ip', ['-o', 'link'])
      .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
      .filter((n) => VETH.test(n) || WRENN.test(n)),
    firewall,
    mounts: read('/proc/self/mounts')
      .split('\n')
      .filter((l) => WRENN.test(l))
      .map((l) => {
        const [source, target, fstype] = l.split(' ');
        return `${target} ${fstype} ${source}`;
      }),
    loops,
    dm: lines('dmsetup', ['ls']).map((l) => l.split(/\s+/)[0]).filter((n) => n.startsWith('wrenn-')),
    cgroups: cgroupHierarchies(options.cgroupBase).flatMap((h) => wrennCgroups(h.dir, 3).map((p) => `${h.name}/${p}`)),
    stateDirs: list('/tmp').filter((n) => n.startsWith('wrenn-t')),
    processes: processes(options.runId),
  };
}

export const EMPTY_STATE: HostState = { netns: [], links: [], firewall: [], mounts: [], loops: [], dm: [], cgroups: [], stateDirs: [], processes: [] };

/**
 * Agent keys (`wrenn-<key>-…`, `wh<key>-…`, `WRENN-<KEY>-…`, cgroup `wrenn-<key>`) of Wrenns that
 * were on the host before the run: what carries them later is theirs, not the run's.
 */
export function agentKeys(state: HostState): Set<string> {
  const keys = new Set<string>();
  const add = (m: RegExpMatchArray | null) => m && keys.add(m[1].toLowerCase());
  for (const n of [...state.netns, ...state.dm]) add(n.match(/^wrenn-([a-z0-9]{1,6})-/));
  for (const n of state.links) add(n.match(/^wh([a-z0-9]{1,6})-\d+$/));
  for (const l of state.firewall) add(l.match(/WRENN-([A-Z0-9]{1,6})-/) ?? l.match(/^nft: table \S+ wrenn-([a-z0-9]{1,6})$/));
  for (const c of state.cgroups) add(c.match(/(?:^|\/)wrenn-([a-z0-9]{1,6})(?:$|\/)/));
  return keys;
}

function ownedBy(item: string, keys: Set<string>): boolean {
  for (const key of keys) {
    const k = key.replace(/[^a-z0-9]/g, '');
    if (new RegExp(`(?:wrenn-${k}(?:-|$|/|\\s|\\])|^wh${k}-\\d|WRENN-${k.toUpperCase()}-)`).test(item)) return true;
  }
  return false;
}

/**
 * What `after` holds that `before` did not, minus what belongs to a Wrenn that was already there
 * (by its agent key): each entry says what it is, ready for an assertion message.
 */
export function createdByRun(before: HostState, after: HostState): Record<keyof HostState, string[]> {
  const foreign = agentKeys(before);
  const out = {} as Record<keyof HostState, string[]>;
  for (const kind of Object.keys(EMPTY_STATE) as Array<keyof HostState>) {
    const had = new Set(before[kind] ?? []);
    out[kind] = (after[kind] ?? []).filter((item) => !had.has(item) && !ownedBy(item, foreign));
  }
  return out;
}

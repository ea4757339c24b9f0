import { readFileSync } from 'node:fs';

export type CgroupVersion = 'v1' | 'v2';

/**
 * v2 when /sys/fs/cgroup itself is a cgroup2 mount (the unified layout); v1 otherwise — including
 * the hybrid layout this kernel uses, where an empty cgroup2 sits at /sys/fs/cgroup/unified and
 * the controllers are v1 mounts.
 */
export function detectCgroupVersion(mounts: string = readFileSync('/proc/self/mounts', 'utf8'), root = '/sys/fs/cgroup'): CgroupVersion {
  for (const line of mounts.split('\n')) {
    const [, target, type] = line.split(' ');
    if (target === root && type === 'cgroup2') return 'v2';
  }
  return 'v1';
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/**
 * Runs after every other suite: whatever the tests created on this host is gone again — mounts,
 * processes, state dirs, network namespaces, veths, firewall chains and cgroups. Whatever the
 * host already had before the run (an operator's Wrenn uses the same names) is not counted.
 */
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args).toString();

/** What the host held before the run (written by scripts/test.mjs); empty when run alone. */
const baseline: { netns: string[]; links: string[]; iptables: string[]; cgroups: string[] } = process.env.WRENN_HOST_BASELINE
  ? JSON.parse(readFileSync(process.env.WRENN_HOST_BASELINE, 'utf8'))
  : { netns: [], links: [], iptables: [], cgroups: [] };
const isNew = (list: string[]) => (item: string) => !list.includes(item);

describe('host after the suite', () => {
  it('has no mounts left by test sandboxes', () => {
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => /\/tmp\/wrenn-|sb_[0-9a-z]{26}/.test(l));
    assert.deepEqual(mounts, []);
  });
  it('has no sandbox processes left', () => {
    const leftovers = sh('ps', ['-eo', 'pid,args']).split('\n').filter((l) => /\/tmp\/wrenn-t|sb_[0-9a-z]{26}/.test(l));
    assert.deepEqual(leftovers, []);
  });
  it('has no state directories left by test platforms', () => {
    assert.deepEqual(readdirSync('/tmp').filter((n) => n.startsWith('wrenn-t')), []);
  });
  it('has no network namespaces or veths left', () => {
    assert.deepEqual(sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith('wrenn-')).filter(isNew(baseline.netns)), []);
    const links = sh('ip', ['-o', 'link']).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '');
    assert.deepEqual(links.filter((l) => /^wh[0-9a-z]+-\d+/.test(l)).filter(isNew(baseline.links)), []);
  });
  it('has no firewall rules left', () => {
    for (const table of ['filter', 'nat']) {
      assert.deepEqual(sh('iptables', ['-w', '-t', table, '-S']).split('\n').filter((l) => l.includes('WRENN-')).filter(isNew(baseline.iptables)), []);
    }
  });
  it('has no cgroups left', () => {
    for (const controller of ['cpu', 'memory', 'pids', 'freezer', 'devices']) {
      const dir = `/sys/fs/cgroup/${controller}`;
      if (existsSync(dir)) {
        const fresh = readdirSync(dir).filter((n) => n.startsWith('wrenn-') && !baseline.cgroups.includes(`${controller}/${n}`));
        assert.deepEqual(fresh, [], controller);
      }
    }
  });
});

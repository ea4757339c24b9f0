import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupHierarchies, createdByRun, EMPTY_STATE, HostState } from './host-state';

const state = (s: Partial<HostState>): HostState => ({ ...EMPTY_STATE, ...s });

describe('what the host-clean check blames on the run', () => {
  it('names what appeared during the run and is still there', () => {
    const left = createdByRun(state({}), state({ netns: ['wrenn-t1a-3'], cgroups: ['memory/wrenn-t1a', 'unified/wrenn-t1a'], firewall: ['ipv6 nat: -N WRENN-T1A-NAT', 'nft: table ip wrenn-t1a'] }));
    assert.deepEqual(left.netns, ['wrenn-t1a-3']);
    assert.deepEqual(left.cgroups, ['memory/wrenn-t1a', 'unified/wrenn-t1a']);
    assert.deepEqual(left.firewall, ['ipv6 nat: -N WRENN-T1A-NAT', 'nft: table ip wrenn-t1a']);
  });

  it('does not blame what was there before, nor what a Wrenn that was already there made since', () => {
    const before = state({ netns: ['wrenn-op1-0'], links: ['whop1-0'], firewall: ['ipv4 filter: -N WRENN-OP1-IN', 'nft: table ip wrenn-op1'], cgroups: ['pids/wrenn-op1'] });
    const after = state({
      netns: ['wrenn-op1-0', 'wrenn-op1-1', 'wrenn-t9-0'],
      links: ['whop1-0', 'whop1-1', 'wht9-0'],
      firewall: ['ipv4 filter: -N WRENN-OP1-IN', 'ipv4 nat: -A WRENN-OP1-NAT -s 10.1.0.2 -j MASQUERADE', 'nft: table ip wrenn-op1', 'nft: table ip wrenn-t9'],
      cgroups: ['pids/wrenn-op1', 'v2/wrenn-op1/sb_01'],
      processes: ['4242:100 [wrenn-op1] tini -s -- sh sb_01jabcdefghjkmnpqrstvwxyz0', '4343:101 [wrenn-t9] tini -s -- sh sb_01jabcdefghjkmnpqrstvwxyz1'],
    });
    const left = createdByRun(before, after);
    assert.deepEqual(left.netns, ['wrenn-t9-0']);
    assert.deepEqual(left.links, ['wht9-0']);
    assert.deepEqual(left.firewall, ['nft: table ip wrenn-t9']);
    assert.deepEqual(left.cgroups, []);
    assert.deepEqual(left.processes, ['4343:101 [wrenn-t9] tini -s -- sh sb_01jabcdefghjkmnpqrstvwxyz1']);
  });

  it('a process that was there before is known by pid and start time, so a reused pid is new', () => {
    const left = createdByRun(state({ processes: ['77:500 sleep /tmp/wrenn-tx'] }), state({ processes: ['77:500 sleep /tmp/wrenn-tx', '78:900 sleep /tmp/wrenn-ty'] }));
    assert.deepEqual(left.processes, ['78:900 sleep /tmp/wrenn-ty']);
  });
});

describe(cgroupHierarchies.name, () => {
  it('reads v1 controllers and the hybrid v2 hierarchy as separate hierarchies, and a pure v2 mount as one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-layout-'));
    try {
      const hybrid = join(dir, 'hybrid');
      for (const c of ['memory', 'pids', 'unified']) {
        mkdirSync(join(hybrid, c), { recursive: true });
        writeFileSync(join(hybrid, c, 'cgroup.procs'), '');
      }
      assert.deepEqual(cgroupHierarchies(hybrid).map((h) => h.name).sort(), ['memory', 'pids', 'unified']);
      const pure = join(dir, 'pure');
      mkdirSync(pure);
      writeFileSync(join(pure, 'cgroup.controllers'), 'cpu memory pids');
      assert.deepEqual(cgroupHierarchies(pure), [{ name: 'v2', dir: pure }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

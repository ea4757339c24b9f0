import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderPlan, SandboxPlan } from './sandbox-launcher';

const plan = (over: Partial<SandboxPlan> = {}): SandboxPlan => ({
  ids: { hostRoot: 1_073_741_824, count: 65_536 },
  cgroupProcs: ['/sys/fs/cgroup/memory/wrenn/sb/cgroup.procs'],
  netnsPath: '/run/netns/wrenn-1',
  lower: ['/var/lib/wrenn/templates/t/layer', '/var/lib/wrenn/images/base-r2'],
  disk: '/s/disk',
  merged: '/s/merged',
  stage: '/s/stage',
  hostname: 'sb_1',
  binds: [{ source: '/usr/bin/node', target: '/opt/wrenn/bin/node', readonly: true }],
  env: { PATH: '/usr/bin:/bin' },
  argv: ['/usr/bin/tini', '--', '/bin/sleep', 'infinity'],
  consoleLog: '/s/console.log',
  ...over,
});

describe('renderPlan', () => {
  it('writes the plan the helper reads: maps, layers top first, binds relative to the root', () => {
    const lines = renderPlan(plan()).trim().split('\n');
    assert.ok(lines.includes('uidmap\t0 1073741824 65536'));
    assert.ok(lines.includes('gidmap\t0 1073741824 65536'));
    assert.deepEqual(lines.filter((l) => l.startsWith('lower\t')), ['lower\t/var/lib/wrenn/templates/t/layer', 'lower\t/var/lib/wrenn/images/base-r2']);
    assert.ok(lines.includes('ro\t/usr/bin/node\topt/wrenn/bin/node'));
    assert.deepEqual(lines.filter((l) => l.startsWith('arg\t')).map((l) => l.slice(4)), ['/usr/bin/tini', '--', '/bin/sleep', 'infinity']);
    assert.ok(lines.some((l) => l.startsWith('seccomp\t')));
    assert.ok(!lines.some((l) => l.startsWith('cap\t21')), 'never CAP_SYS_ADMIN');
  });

  it('refuses a value that would smuggle another line into the plan', () => {
    assert.throws(() => renderPlan(plan({ hostname: 'a\nuidmap\t0 0 4294967295' })), /newline/);
    assert.throws(() => renderPlan(plan({ env: { X: 'a\tb' } })), /tab/);
    assert.throws(() => renderPlan(plan({ argv: ['/bin/sh', 'a\0b'] })), /NUL/);
  });

  it('names the init agent socket only when asked, and refuses a path bind() cannot take', () => {
    assert.ok(!renderPlan(plan()).includes('agent\t'));
    const lines = renderPlan(plan({ argv: [], agentSocket: '/var/lib/wrenn/sandboxes/sb_1/init.sock' })).trim().split('\n');
    assert.ok(lines.includes('agent\t/var/lib/wrenn/sandboxes/sb_1/init.sock'));
    assert.ok(!lines.some((l) => l.startsWith('arg\t')));
    assert.throws(() => renderPlan(plan({ agentSocket: `/${'x'.repeat(107)}` })), /107 bytes/);
    assert.throws(() => renderPlan(plan({ agentSocket: 'relative.sock' })), /absolute/);
  });
});

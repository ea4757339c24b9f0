import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { HostAdmission } from './host-admission';
import { parseMeminfo } from '../metrics/machine-memory';

/** A host on a machine with these figures, running `running` sandboxes of 512 MiB. */
function admission(machine: { totalMb: number; usedMb: number }, running = 0, over: { maxSandboxes?: number; memoryMb?: number } = {}) {
  return new HostAdmission({
    hostId: 'h1',
    capacity: { vcpus: 32, memoryMb: over.memoryMb ?? 1_000_000, maxSandboxes: over.maxSandboxes ?? 4096 },
    reserveMb: 1024,
    overcommit: 32,
    perSandboxMb: 16,
    usage: () => ({ sandboxes: running, vcpus: running, memoryMb: running * 512 }),
    readMemory: () => machine,
  });
}

const full = (resource: string) => (error: unknown) => error instanceof WrennError && error.code === ErrorCode.HostFull && error.details?.resource === resource;

describe(HostAdmission.name, () => {
  it('reports the machine\'s memory, whatever share of it the host offers, with its rules', () => {
    assert.deepEqual(admission({ totalMb: 24_000, usedMb: 3000 }, 0, { memoryMb: 8192 }).memory(), { totalMb: 24_000, usedMb: 3000, reserveMb: 1024, overcommit: 32, perSandboxMb: 16 });
  });

  it('runs the work when there is room, and refuses with host_full (memory) without running it when not', async () => {
    const machine = { totalMb: 24_576, usedMb: 24_576 - 1024 - 16 };
    const gate = admission(machine);
    assert.equal(await gate.admitting({ memoryMb: 512 }, async () => 'made'), 'made');
    machine.usedMb += 1;
    let ran = false;
    await assert.rejects(gate.admitting({ memoryMb: 512 }, async () => (ran = true)), full('memory'));
    assert.equal(ran, false);
  });

  it('counts the creates under way: concurrent ones cannot all pass the same figures', async () => {
    // Room for three at 16 MiB each.
    const gate = admission({ totalMb: 24_576, usedMb: 24_576 - 1024 - 48 });
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const calls = Array.from({ length: 5 }, () => gate.admitting({ memoryMb: 512 }, () => held));
    assert.deepEqual(gate.underWay(), { sandboxes: 3, memoryMb: 3 * 512 });
    finish();
    const results = await Promise.allSettled(calls);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
    assert.ok(results.filter((r) => r.status === 'rejected').every((r) => full('memory')((r as PromiseRejectedResult).reason)));
    assert.deepEqual(gate.underWay(), { sandboxes: 0, memoryMb: 0 }, 'nothing counted once they ended');
  });

  it('stops counting a create that failed', async () => {
    const gate = admission({ totalMb: 24_576, usedMb: 24_576 - 1024 - 16 });
    await assert.rejects(gate.admitting({ memoryMb: 512 }, async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await gate.admitting({ memoryMb: 512 }, async () => 'made'), 'made');
  });

  it('without the machine\'s figures, reports none and holds the host to its requested memory', async () => {
    const gate = new HostAdmission({
      hostId: 'h1', capacity: { vcpus: 2, memoryMb: 1024, maxSandboxes: 10 }, reserveMb: 0, overcommit: 32, perSandboxMb: 16,
      usage: () => ({ sandboxes: 1, vcpus: 1, memoryMb: 512 }),
      readMemory: () => { throw new Error('no /proc'); },
    });
    assert.equal(gate.memory(), undefined);
    assert.equal(await gate.admitting({ memoryMb: 512 }, async () => 'made'), 'made');
    await assert.rejects(gate.admitting({ memoryMb: 513 }, async () => 'made'), full('memory'));
  });

  it('refuses past the sandbox cap with host_full (sandboxes)', async () => {
    await assert.rejects(admission({ totalMb: 24_576, usedMb: 2048 }, 10, { maxSandboxes: 10 }).admitting({ memoryMb: 1 }, async () => 'made'), full('sandboxes'));
  });
});

describe('parseMeminfo', () => {
  it('counts MemTotal − MemAvailable as used, so page cache is not use', () => {
    const text = 'MemTotal:       24576000 kB\nMemFree:          100000 kB\nMemAvailable:   20480000 kB\nCached:         10000000 kB\n';
    assert.deepEqual(parseMeminfo(text), { totalMb: 24_000, usedMb: 4000 });
  });
  it('falls back to MemFree + Cached on kernels without MemAvailable', () => {
    assert.deepEqual(parseMeminfo('MemTotal: 2048000 kB\nMemFree: 1024000 kB\nCached: 512000 kB\n'), { totalMb: 2000, usedMb: 500 });
  });
  it('refuses text without MemTotal', () => {
    assert.throws(() => parseMeminfo('nothing'), /MemTotal/);
  });
});

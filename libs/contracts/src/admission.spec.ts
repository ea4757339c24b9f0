import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, HostReport, NOTHING_PENDING } from './admission';

const GiB = 1024;
/** Our 2-core / 24 GiB host with the defaults: 1 GiB reserve, overcommit 32, 16 MiB per new sandbox. */
function host(over: { usedMb?: number; sandboxes?: number; requestedMb?: number; reserveMb?: number; overcommit?: number; maxSandboxes?: number } = {}): HostReport {
  return {
    hostId: 'h1',
    capacity: { vcpus: 32, memoryMb: 24 * GiB, maxSandboxes: over.maxSandboxes ?? 4096 },
    used: { sandboxes: over.sandboxes ?? 0, vcpus: over.sandboxes ?? 0, memoryMb: over.requestedMb ?? 0 },
    memory: { totalMb: 24 * GiB, usedMb: over.usedMb ?? 2 * GiB, reserveMb: over.reserveMb ?? GiB, overcommit: over.overcommit ?? 32, perSandboxMb: 16 },
  };
}

describe('admit', () => {
  it('admits the 1,001st idle sandbox of 512 MiB on our host with the defaults', () => {
    // 1,000 idle sandboxes at 4 MiB each on top of 2 GiB for the platform.
    const verdict = admit(host({ sandboxes: 1000, requestedMb: 1000 * 512, usedMb: 2 * GiB + 4000 }), NOTHING_PENDING, { memoryMb: 512 });
    assert.equal(verdict.admitted, true);
  });

  it('counts no vCPUs: a host with far more vCPUs asked than it has still admits', () => {
    const h = host({ sandboxes: 200 });
    h.used.vcpus = 10_000;
    assert.equal(admit(h, NOTHING_PENDING, { memoryMb: 512 }).admitted, true);
  });

  it('never admits past total − reserve of real use, whatever the overcommit', () => {
    // 24 GiB − 1 GiB reserve = 23,552 MiB; the new sandbox is counted at 16 MiB.
    assert.equal(admit(host({ usedMb: 23_536, overcommit: 1000 }), NOTHING_PENDING, { memoryMb: 1 }).admitted, true);
    const verdict = admit(host({ usedMb: 23_537, overcommit: 1000 }), NOTHING_PENDING, { memoryMb: 1 });
    assert.equal(verdict.admitted, false);
    assert.ok(!verdict.admitted && verdict.resource === 'memory' && /out of memory/.test(verdict.reason) && /1024 MiB reserved/.test(verdict.reason), JSON.stringify(verdict));
  });

  it('a bigger reserve refuses sooner', () => {
    assert.equal(admit(host({ usedMb: 20 * GiB, reserveMb: 3 * GiB }), NOTHING_PENDING, { memoryMb: 1 }).admitted, true);
    assert.equal(admit(host({ usedMb: 20 * GiB, reserveMb: 4 * GiB }), NOTHING_PENDING, { memoryMb: 1 }).admitted, false);
  });

  it('holds requested memory to (total − reserve) × overcommit', () => {
    // 23,552 MiB × 2 = 47,104 MiB may be asked for.
    assert.equal(admit(host({ overcommit: 2, requestedMb: 47_104 - 512 }), NOTHING_PENDING, { memoryMb: 512 }).admitted, true);
    const verdict = admit(host({ overcommit: 2, requestedMb: 47_104 - 511 }), NOTHING_PENDING, { memoryMb: 512 });
    assert.ok(!verdict.admitted && verdict.resource === 'memory' && /overcommit 2/.test(verdict.reason), JSON.stringify(verdict));
    // A fractional ratio holds the sandboxes under the machine's memory.
    assert.equal(admit(host({ overcommit: 0.5 }), NOTHING_PENDING, { memoryMb: 11_777 }).admitted, false);
    assert.equal(admit(host({ overcommit: 0.5 }), NOTHING_PENDING, { memoryMb: 11_776 }).admitted, true);
  });

  it('refuses one sandbox asking more than the host admits into', () => {
    const verdict = admit(host(), NOTHING_PENDING, { memoryMb: 23_553 });
    assert.ok(!verdict.admitted && verdict.resource === 'memory' && /more than the 23552 MiB/.test(verdict.reason), JSON.stringify(verdict));
  });

  it('counts sandboxes admitted since the figures at their start size and their requested memory', () => {
    // Room for exactly 10 more at 16 MiB each.
    const h = host({ usedMb: 23_552 - 160 });
    assert.equal(admit(h, { sandboxes: 9, memoryMb: 9 * 512 }, { memoryMb: 512 }).admitted, true);
    const verdict = admit(h, { sandboxes: 10, memoryMb: 10 * 512 }, { memoryMb: 512 });
    assert.ok(!verdict.admitted && /10 sandboxes starting/.test(verdict.reason), JSON.stringify(verdict));
    // And their requested memory against the overcommit.
    assert.equal(admit(host({ overcommit: 1 }), { sandboxes: 1, memoryMb: 23_000 }, { memoryMb: 552 }).admitted, true);
    assert.equal(admit(host({ overcommit: 1 }), { sandboxes: 1, memoryMb: 23_001 }, { memoryMb: 552 }).admitted, false);
  });

  it('caps the count of sandboxes, pending ones included', () => {
    assert.equal(admit(host({ maxSandboxes: 10, sandboxes: 9 }), NOTHING_PENDING, { memoryMb: 1 }).admitted, true);
    const verdict = admit(host({ maxSandboxes: 10, sandboxes: 8 }), { sandboxes: 2, memoryMb: 2 }, { memoryMb: 1 });
    assert.ok(!verdict.admitted && verdict.resource === 'sandboxes', JSON.stringify(verdict));
  });

  it('reports the headroom left after the sandbox, for spreading: the lesser of the overcommit left and real memory left × overcommit', () => {
    // Real memory binds: (23,552 − 10,000 − 2 × 16) × 32 < 23,552 × 32 − 1,024.
    assert.deepEqual(admit(host({ usedMb: 10_000 }), { sandboxes: 1, memoryMb: 512 }, { memoryMb: 512 }), { admitted: true, headroomMb: (23_552 - 10_032) * 32 });
    // Requested memory binds.
    assert.deepEqual(admit(host({ usedMb: 2048, overcommit: 1, requestedMb: 20_000 }), NOTHING_PENDING, { memoryMb: 512 }), { admitted: true, headroomMb: 23_552 - 20_512 });
  });

  it('holds requested memory to the configured share of the machine, real use to the whole machine', () => {
    // Three agents on one 24 GiB machine, each offering 8 GiB: (8,192 − 1,024) × 2 = 14,336 MiB may be asked of each.
    const share = (requestedMb: number, usedMb: number): HostReport => {
      const h = host({ overcommit: 2, requestedMb, usedMb });
      h.capacity.memoryMb = 8192;
      return h;
    };
    assert.equal(admit(share(14_336 - 512, 2048), NOTHING_PENDING, { memoryMb: 512 }).admitted, true);
    assert.equal(admit(share(14_336 - 511, 2048), NOTHING_PENDING, { memoryMb: 512 }).admitted, false);
    // The machine's real use past 8 GiB (the other agents' sandboxes) is no reason to refuse...
    assert.equal(admit(share(0, 12_000), NOTHING_PENDING, { memoryMb: 512 }).admitted, true);
    // ...the machine's memory less the reserve is.
    assert.equal(admit(share(0, 23_540), NOTHING_PENDING, { memoryMb: 512 }).admitted, false);
  });

  it('holds an older agent without memory figures to its requested memory', () => {
    const old: HostReport = { hostId: 'old', capacity: { vcpus: 1, memoryMb: 4096, maxSandboxes: 100 }, used: { sandboxes: 3, vcpus: 50, memoryMb: 3584 } };
    assert.deepEqual(admit(old, NOTHING_PENDING, { memoryMb: 512 }), { admitted: true, headroomMb: 0 });
    assert.equal(admit(old, NOTHING_PENDING, { memoryMb: 513 }).admitted, false);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SlotAllocator } from './slot-allocator';

describe(SlotAllocator.name, () => {
  it('gives each slot its own /30 with host and sandbox addresses', () => {
    const a = new SlotAllocator('10.200.0.0/16');
    assert.deepEqual(a.allocate(), { index: 1, hostIp: '10.200.0.5', sandboxIp: '10.200.0.6', prefixLen: 30 });
    assert.deepEqual(a.allocate(), { index: 2, hostIp: '10.200.0.9', sandboxIp: '10.200.0.10', prefixLen: 30 });
    assert.equal(a.addresses(64).hostIp, '10.200.1.1');
  });
  it('never hands out an address twice', () => {
    const a = new SlotAllocator('10.9.0.0/22');
    const seen = new Set<string>();
    for (let i = 0; i < a.capacity; i++) {
      const s = a.allocate();
      for (const ip of [s.hostIp, s.sandboxIp]) {
        assert.ok(!seen.has(ip), ip);
        seen.add(ip);
      }
    }
    assert.equal(a.capacity, 255);
    assert.throws(() => a.allocate(), /all 255 network slots are in use/);
  });
  it('reuses released slots only after the others (round-robin)', () => {
    const a = new SlotAllocator('10.9.0.0/28'); // 3 slots
    const first = a.allocate().index;
    a.release(first);
    assert.equal(a.allocate().index, 2);
    assert.equal(a.allocate().index, 3);
    assert.equal(a.allocate().index, 1);
  });
  it('respects slots marked in use by recovery', () => {
    const a = new SlotAllocator('10.9.0.0/24');
    a.markInUse(1);
    a.markInUse(2);
    assert.equal(a.allocate().index, 3);
    assert.deepEqual(a.inUse(), [1, 2, 3]);
  });
  it('rejects unusable CIDRs', () => {
    assert.throws(() => new SlotAllocator('10.0.0.0/30'));
    assert.throws(() => new SlotAllocator('300.0.0.0/16'));
  });
});

describe(`${SlotAllocator.name} at scale`, () => {
  it('hands out fresh slots first, then released ones oldest release first', () => {
    const a = new SlotAllocator('10.9.0.0/26'); // 15 slots
    const all = Array.from({ length: 15 }, () => a.allocate().index);
    assert.deepEqual(all, Array.from({ length: 15 }, (_, i) => i + 1));
    a.release(7);
    a.release(3);
    a.release(11);
    a.release(3); // twice is once
    assert.deepEqual([a.allocate().index, a.allocate().index, a.allocate().index], [7, 3, 11]);
    assert.throws(() => a.allocate(), /all 15 network slots are in use/);
  });

  it('steps over slots recovery marked in use above the fresh mark, and frees them into the fresh range', () => {
    const a = new SlotAllocator('10.9.0.0/26');
    a.markInUse(2);
    a.markInUse(5);
    assert.deepEqual([a.allocate().index, a.allocate().index, a.allocate().index], [1, 3, 4]);
    a.release(5); // never handed out by this allocator, above the mark: the mark reaches it in turn
    assert.deepEqual([a.allocate().index, a.allocate().index], [5, 6]);
    a.release(1);
    a.markInUse(1); // a released slot recovery found in use is not handed out again
    const rest = [];
    for (let i = 0; i < 9; i++) rest.push(a.allocate().index);
    assert.deepEqual(rest, [7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert.throws(() => a.allocate(), /in use/);
  });

  it('agrees with a reference model under random allocate/release/markInUse, never handing a slot out twice', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const a = new SlotAllocator('10.9.0.0/24'); // 63 slots
    const inUse = new Set<number>();
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.5) {
        if (inUse.size === a.capacity) {
          assert.throws(() => a.allocate());
          continue;
        }
        const index = a.allocate().index;
        assert.ok(!inUse.has(index), `slot ${index} handed out twice`);
        inUse.add(index);
      } else if (r < 0.95) {
        const index = 1 + Math.floor(random() * a.capacity);
        a.release(index);
        inUse.delete(index);
      } else {
        const index = 1 + Math.floor(random() * a.capacity);
        a.markInUse(index);
        inUse.add(index);
      }
      if (step % 1000 === 0) assert.deepEqual(a.inUse(), [...inUse].sort((x, y) => x - y));
    }
  });

  it('allocates and releases in constant time with every slot in use', () => {
    const a = new SlotAllocator('10.0.0.0/12', 100_000);
    for (let i = 0; i < a.capacity; i++) a.allocate();
    // The worst case of a cursor walking the slots in use: the one free slot is the last one.
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) {
      a.release(a.capacity);
      assert.equal(a.allocate().index, a.capacity);
    }
    const perCycleUs = ((performance.now() - t0) * 1000) / 20_000;
    assert.ok(perCycleUs < 50, `release + allocate took ${perCycleUs.toFixed(2)} µs`);
  });

  it('finds a slot by its sandbox address, and nothing for any other address', () => {
    const a = new SlotAllocator('10.200.0.0/16', 4096);
    assert.equal(a.indexOfSandboxIp('10.200.0.6'), 1);
    assert.equal(a.indexOfSandboxIp(a.addresses(4096).sandboxIp), 4096);
    assert.equal(a.indexOfSandboxIp('10.200.0.5'), undefined, 'a host side');
    assert.equal(a.indexOfSandboxIp('10.200.0.2'), undefined, 'slot 0 is never used');
    assert.equal(a.indexOfSandboxIp('10.201.0.6'), undefined);
    assert.equal(a.indexOfSandboxIp('not an ip'), undefined);
  });
});

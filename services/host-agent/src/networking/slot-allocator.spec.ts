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

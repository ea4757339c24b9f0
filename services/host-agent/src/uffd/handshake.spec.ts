import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadNative } from './native-binding';

// The page server's reading of Firecracker's handshake body (the fd travels beside it).
describe('userfaultfd handshake', () => {
  const parse = (json: string) => loadNative().parseHandshake(json);

  it('reads the regions Firecracker announces, page sizes in bytes', () => {
    const body = JSON.stringify([
      { base_host_virt_addr: 140_000_000_000_000, size: 3 * 2 ** 30, offset: 0, page_size: 4096, page_size_kib: 4096 },
      { base_host_virt_addr: 140_100_000_000_000, size: 2 ** 30, offset: 3 * 2 ** 30, page_size: 4096, page_size_kib: 4096 },
    ]);
    assert.deepEqual(parse(body), [
      { base: 140_000_000_000_000, size: 3 * 2 ** 30, offset: 0, pageSize: 4096 },
      { base: 140_100_000_000_000, size: 2 ** 30, offset: 3 * 2 ** 30, pageSize: 4096 },
    ]);
  });

  it('accepts the older form with only page_size_kib, whitespace and unknown keys', () => {
    const body = ' [ { "base_host_virt_addr" : 8192 , "size": 4096, "offset": 4096, "page_size_kib": 2097152, "note": "x", "f": 1.5, "b": true } ] ';
    assert.deepEqual(parse(body), [{ base: 8192, size: 4096, offset: 4096, pageSize: 2097152 }]);
  });

  it('refuses what is not a region list, with the reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['[]', /no memory regions/],
      ['{"size":1}', /expected '\['/],
      ['[{"base_host_virt_addr":1,"size":2,"offset":0}]', /lacks/],
      ['[{"base_host_virt_addr":-1,"size":2,"offset":0,"page_size":4096}]', /not an unsigned integer/],
      ['[{"base_host_virt_addr":99999999999999999999999,"size":2,"offset":0,"page_size":4096}]', /not an unsigned integer/],
      ['[{"base_host_virt_addr":{"a":1},"size":2,"offset":0,"page_size":4096}]', /nested value/],
      ['[{"size":2', /incomplete/],
    ];
    for (const [body, reason] of cases) assert.throws(() => parse(body), reason, body);
  });
});

describe('the production addon', () => {
  it("carries the page server, the init channel, the disk mounts, the slots' cleaning and helpers but not the test guest or the device filter views (a separate, test-only addon)", () => {
    assert.deepEqual(Object.keys(loadNative()).sort(), ['SeqpacketChannel', 'UffdServer', 'attachDeviceFilter', 'dataExtents', 'detachMount', 'flushFlowsIn', 'flushNeighbours', 'forgetFlows', 'mountDiskImage', 'mountFlags', 'parseHandshake', 'processesIn', 'setWindowSize']);
  });
});

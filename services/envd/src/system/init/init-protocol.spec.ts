import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SystemError } from '../sandbox-system';
import { bodyStrings, decodeReply, decodeWaitStatus, encodeRequest, errnoName, MAX_REQUEST, parseWatchRecords, watchKind } from './init-protocol';

const reply = (id: number, kind: number, value: number, body: Buffer | string = '') => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(id, 0);
  head.writeUInt32LE(kind, 4);
  head.writeInt32LE(value, 8);
  return Buffer.concat([head, b]);
};
const record = (mask: number, path: string) => {
  const p = Buffer.from(path);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(mask, 0);
  head.writeUInt32LE(p.length, 4);
  return Buffer.concat([head, p]);
};

describe('the init agent protocol', () => {
  it('encodes a request as id, op and NUL-terminated strings', () => {
    const packet = encodeRequest(7, 3, ['0', '', '/a b']);
    assert.equal(packet.readUInt32LE(0), 7);
    assert.equal(packet.readUInt32LE(4), 3);
    assert.equal(packet.subarray(8).toString(), '0\0\0/a b\0');
  });

  it('refuses a request the init could not parse or would refuse', () => {
    assert.throws(() => encodeRequest(1, 1, ['a\0b']), (e: SystemError) => e.code === 'EINVAL');
    assert.throws(() => encodeRequest(1, 1, ['x'.repeat(MAX_REQUEST)]), (e: SystemError) => e.code === 'E2BIG');
  });

  it('decodes replies and rejects packets that are none', () => {
    assert.deepEqual(decodeReply(reply(9, 1, 13, 'open\0')), { id: 9, kind: 1, value: 13, body: Buffer.from('open\0') });
    assert.equal(decodeReply(Buffer.alloc(11)), undefined, 'shorter than a header');
    assert.equal(decodeReply(reply(1, 4, 0)), undefined, 'unknown kind');
    assert.deepEqual(bodyStrings(Buffer.from('a\0\0b\0')), ['a', '', 'b']);
    assert.deepEqual(bodyStrings(Buffer.alloc(0)), []);
    assert.throws(() => bodyStrings(Buffer.from('a\0b')), (e: SystemError) => e.code === 'EPROTO');
  });

  it('names errnos and wait statuses', () => {
    assert.equal(errnoName(2), 'ENOENT');
    assert.equal(errnoName(13), 'EACCES');
    assert.equal(errnoName(99999), 'EIO');
    assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3, signal: null });
    assert.deepEqual(decodeWaitStatus(15), { code: null, signal: 'SIGTERM' });
    assert.deepEqual(decodeWaitStatus(9 | 0x80), { code: null, signal: 'SIGKILL' }, 'a core dump flag aside');
  });

  it('splits watch records across reads and refuses malformed ones', () => {
    const data = Buffer.concat([record(0x100, '/w/a'), record(0x2, '/w/b')]);
    const first = parseWatchRecords(data.subarray(0, 15));
    assert.deepEqual(first.records, [{ mask: 0x100, path: '/w/a' }]);
    const second = parseWatchRecords(Buffer.concat([first.rest, data.subarray(15)]));
    assert.deepEqual(second.records, [{ mask: 0x2, path: '/w/b' }]);
    assert.equal(second.rest.length, 0);
    assert.throws(() => parseWatchRecords(record(0x2, 'relative')), (e: SystemError) => e.code === 'EPROTO');
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(1_000_000, 4);
    assert.throws(() => parseWatchRecords(huge), (e: SystemError) => e.code === 'EPROTO', 'a length no path has');
  });

  it('maps inotify masks as fsnotify does', () => {
    assert.equal(watchKind(0x100 | 0x40000000), 'create');
    assert.equal(watchKind(0x80), 'create');
    assert.equal(watchKind(0x2), 'write');
    assert.equal(watchKind(0x200), 'remove');
    assert.equal(watchKind(0x40), 'rename');
    assert.equal(watchKind(0x4), 'chmod');
    assert.equal(watchKind(0x8000), undefined, 'IN_IGNORED');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { naming } from '@wrenn/contracts';
import { MsgHdrs } from 'nats';
import { decodeEvent, encodeHeaders, EventHeader, MalformedEventError } from './envelope';

const names = naming('');
const META = { correlationId: 'corr_1', causationId: 'cmd_1:x', actor: { kind: 'api_key' as const, id: 'key_1' }, teamId: 'team_1' };
const body = new TextEncoder().encode('{"hostId":"h1"}');

describe('decodeEvent', () => {
  it('reads every envelope field from the headers and the data from the body', () => {
    const headers = encodeHeaders('evt_1', { type: 'sandbox.started', data: {} }, META, '2026-03-01T10:00:00.000Z');
    const event = decodeEvent({ subject: 'evt.sandbox.sb_1', seq: 42, headers, data: body }, names.parseEventSubject);
    assert.deepEqual(event, {
      id: 'evt_1', type: 'sandbox.started', version: 1, subject: 'evt.sandbox.sb_1', aggregate: 'sandbox', aggregateId: 'sb_1',
      data: { hostId: 'h1' }, correlationId: 'corr_1', causationId: 'cmd_1:x', actor: { kind: 'api_key', id: 'key_1' },
      teamId: 'team_1', occurredAt: '2026-03-01T10:00:00.000Z', seq: 42,
    });
  });

  it('reads headers through get() when they are not the client library’s own', () => {
    const real = encodeHeaders('evt_2', { type: 'sandbox.stopped', data: {} }, META, '2026-03-01T10:00:00.000Z');
    const other = { get: (name: string) => real.get(name) } as unknown as MsgHdrs;
    assert.equal(decodeEvent({ subject: 'evt.sandbox.sb_1', seq: 1, headers: other, data: body }, names.parseEventSubject).id, 'evt_2');
  });

  it('rejects a message with a missing header, a bad version or a body that is not an object', () => {
    const headers = encodeHeaders('evt_3', { type: 'sandbox.started', data: {} }, META, '2026-03-01T10:00:00.000Z');
    headers.delete(EventHeader.TeamId);
    assert.throws(() => decodeEvent({ subject: 'evt.sandbox.sb_1', seq: 1, headers, data: body }, names.parseEventSubject), MalformedEventError);
    const v0 = encodeHeaders('evt_4', { type: 'sandbox.started', version: 0, data: {} }, META, '2026-03-01T10:00:00.000Z');
    assert.throws(() => decodeEvent({ subject: 'evt.sandbox.sb_1', seq: 1, headers: v0, data: body }, names.parseEventSubject), /bad event version "0"/);
    const ok = encodeHeaders('evt_5', { type: 'sandbox.started', data: {} }, META, '2026-03-01T10:00:00.000Z');
    assert.throws(() => decodeEvent({ subject: 'evt.sandbox.sb_1', seq: 1, headers: ok, data: new TextEncoder().encode('[1]') }, names.parseEventSubject), MalformedEventError);
    assert.throws(() => decodeEvent({ subject: 'other.sb_1', seq: 1, headers: ok, data: body }, names.parseEventSubject), MalformedEventError);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostHeartbeat, naming } from '@wrenn/contracts';
import { createLogger } from '@wrenn/logger';
import { HostDirectory } from './host-directory';

const T0 = 5_000_000;
/** A host with real memory left for exactly `room` sandboxes at 16 MiB each. */
function beat(id: string, at: number, room: number, used: Partial<HostHeartbeat['used']> = {}): HostHeartbeat {
  return {
    hostId: id,
    bootId: `boot-${id}`,
    runtime: 'namespace',
    capacity: { vcpus: 32, memoryMb: 24_576, maxSandboxes: 4096 },
    used: { sandboxes: 0, vcpus: 0, memoryMb: 0, ...used },
    memory: { totalMb: 24_576, usedMb: 24_576 - 1024 - room * 16, reserveMb: 1024, overcommit: 32, perSandboxMb: 16 },
    at,
    leaseMs: 6000,
    version: 'test',
    dataPlaneUrl: 'http://127.0.0.1:1',
  };
}

/** The directory's bookkeeping without its KV watch: beats are handed to it as the watch would. */
function directory(): HostDirectory {
  return new HostDirectory(undefined as never, naming('test'), createLogger('test'));
}

describe(HostDirectory.name, () => {
  it('aims warm claims only at hosts that report one of the template ready, no more of them than reported, until a beat or a claim answer says otherwise', () => {
    const hosts = directory();
    hosts.observe({ ...beat('a', T0, 100), warm: { 'image:base': 2, 'template:tpl_x': 1 } });
    hosts.observe(beat('b', T0, 500)); // more room, no pool
    const aim = () => hosts.placeWarm({ memoryMb: 128, warmKey: 'image:base' }, T0 + 10).host?.hostId;
    assert.deepEqual([aim(), aim(), aim()], ['a', 'a', undefined], 'two reported, two claims; the cold path then places on any host');
    assert.equal(hosts.place({ memoryMb: 128 }, T0 + 10).host?.hostId, 'b');
    // The claim's answer says one is left; a refusal says none.
    hosts.noteWarm('a', 'image:base', 1);
    assert.equal(aim(), 'a');
    hosts.noteWarm('a', 'image:base', 0);
    assert.equal(aim(), undefined);
    // A frozen template's pool is its own; the next beat replaces what was noted.
    assert.equal(hosts.placeWarm({ memoryMb: 128, warmKey: 'template:tpl_x', onlyHost: 'b' }, T0 + 10).host, null);
    hosts.observe({ ...beat('a', T0 + 500, 100), warm: { 'image:base': 1 } });
    assert.equal(aim(), 'a');
    // A host with a warm sandbox but no room for the create is not aimed at.
    hosts.observe({ ...beat('a', T0 + 1000, 0), warm: { 'image:base': 1 } });
    assert.equal(hosts.placeWarm({ memoryMb: 128, warmKey: 'image:base' }, T0 + 1010).host, null);
  });

  it('admits a burst only as far as the host has room: each placement counts against the next', () => {
    const hosts = directory();
    hosts.observe(beat('a', T0, 5));
    const placed = Array.from({ length: 20 }, () => hosts.place({ memoryMb: 512 }, T0 + 10));
    assert.equal(placed.filter((p) => p.host).length, 5);
    const refused = placed.find((p) => !p.host)!;
    assert.equal(refused.full[0].resource, 'memory');
    assert.deepEqual(hosts.pending().get('a'), { sandboxes: 5, memoryMb: 5 * 512 });
  });

  it('spreads a burst over two hosts, then refuses with both full', () => {
    const hosts = directory();
    hosts.observe(beat('a', T0, 2));
    hosts.observe(beat('b', T0, 2));
    const ids = Array.from({ length: 5 }, () => hosts.place({ memoryMb: 256 }, T0 + 10).host?.hostId ?? null);
    assert.deepEqual(ids.slice().sort(), ['a', 'a', 'b', 'b', null]);
  });

  it('keeps counting a create under way across new beats, and a finished one until a beat taken after it', () => {
    const hosts = directory();
    hosts.observe(beat('a', T0, 1));
    const placed = hosts.place({ memoryMb: 512 }, T0 + 10);
    assert.ok(placed.host);
    // Under way: a fresh beat (that does not show it yet) does not wipe the booking.
    hosts.observe(beat('a', T0 + 2000, 1));
    assert.equal(hosts.place({ memoryMb: 512 }, T0 + 2010).host, null);
    // Finished at T0 + 2500: a beat taken before that still does not show it...
    placed.booking.settle(T0 + 2500);
    hosts.observe(beat('a', T0 + 2400, 1));
    assert.equal(hosts.place({ memoryMb: 512 }, T0 + 2410).host, null);
    // ...one taken after it does, and its figures (room for one more) take over.
    hosts.observe(beat('a', T0 + 4000, 1, { sandboxes: 1, memoryMb: 512 }));
    assert.equal(hosts.pending().get('a'), undefined);
    assert.equal(hosts.place({ memoryMb: 512 }, T0 + 4010).host?.hostId, 'a');
  });

  it('gives back the room of a create that did not happen', () => {
    const hosts = directory();
    hosts.observe(beat('a', T0, 1));
    const placed = hosts.place({ memoryMb: 512 }, T0 + 10);
    assert.equal(hosts.place({ memoryMb: 512 }, T0 + 10).host, null);
    assert.ok(placed.host);
    placed.booking.release();
    // Twice is once: the totals do not go below what is booked.
    placed.booking.release();
    assert.equal(hosts.pending().get('a'), undefined);
    assert.equal(hosts.place({ memoryMb: 512 }, T0 + 10).host?.hostId, 'a');
    assert.equal(hosts.place({ memoryMb: 512 }, T0 + 10).host, null);
  });

  it('places nothing on a host whose last beat is older than its lease, however empty it said it was', () => {
    const hosts = directory();
    hosts.observe(beat('a', T0, 1000));
    assert.deepEqual(hosts.place({ memoryMb: 512 }, T0 + 6000), { host: null, full: [] });
  });

  it('leaves out hosts that refused this sandbox, and keeps to the template\'s host', () => {
    const hosts = directory();
    hosts.observe(beat('a', T0, 10));
    hosts.observe(beat('b', T0, 5));
    assert.equal(hosts.place({ memoryMb: 1, exclude: new Set(['a']) }, T0 + 1).host?.hostId, 'b');
    assert.equal(hosts.place({ memoryMb: 1, onlyHost: 'b' }, T0 + 1).host?.hostId, 'b');
    assert.equal(hosts.place({ memoryMb: 1, onlyHost: 'b', exclude: new Set(['b']) }, T0 + 1).host, null);
  });
});

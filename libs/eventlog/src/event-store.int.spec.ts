import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { ErrorCode } from '@wrenn/contracts';
import { CommandHandler, DeciderLike } from './command-handler';
import { ConcurrencyError, EventStore } from './event-store';
import { EventHeader } from './envelope';

const META = { correlationId: 'corr-1', causationId: 'cmd-1', actor: { kind: 'user' as const, id: 'usr_1' }, teamId: 'team_1' };

// A counter aggregate: enough to exercise the handler without any real domain.
type CounterEvent = { type: 'counter.incremented'; data: { by: number } };
const counter: DeciderLike<{ by: number }, CounterEvent, number> = {
  initialState: () => 0,
  decide: (c, s) => {
    if (s + c.by > 100) throw Object.assign(new Error('too big'), { code: 'invalid_state' });
    return [{ type: 'counter.incremented', data: { by: c.by } }];
  },
  evolve: (s, e) => s + e.data.by,
};

describe(EventStore.name, () => {
  let env: TestEnv;
  let store: EventStore;
  before(async () => {
    env = await createTestEnv('evstore');
    store = await EventStore.create(env.nc, env.naming);
    await store.ensureStream();
  });
  after(async () => env.cleanup());

  it('sets the stream up idempotently', async () => {
    await store.ensureStream();
    await store.ensureStream();
    const jsm = await env.nc.jetstreamManager();
    const info = await jsm.streams.info(env.naming.stream);
    assert.deepEqual(info.config.subjects, [env.naming.eventsWildcard]);
    assert.equal(info.config.storage, 'file');
  });

  it('appends with the envelope in headers and reads the history back in order', async () => {
    const first = await store.append('sandbox', 'sb_a', [{ type: 'sandbox.requested', data: { n: 1 } }], META, 0);
    const second = await store.append('sandbox', 'sb_a', [{ type: 'sandbox.started', data: { n: 2 } }], { ...META, causationId: 'cmd-2' }, first.seq);
    const { events, version } = await store.load('sandbox', 'sb_a');
    assert.equal(version, second.seq);
    assert.deepEqual(events.map((e) => e.type), ['sandbox.requested', 'sandbox.started']);
    assert.deepEqual(events[0].data, { n: 1 });
    assert.equal(events[0].actor.id, 'usr_1');
    assert.equal(events[1].causationId, 'cmd-2');
    const jsm = await env.nc.jetstreamManager();
    const raw = await jsm.streams.getMessage(env.naming.stream, { seq: first.seq });
    assert.equal(raw.subject, env.naming.eventSubject('sandbox', 'sb_a'));
    assert.equal(raw.header.get(EventHeader.Type), 'sandbox.requested');
    assert.equal(raw.header.get(EventHeader.Version), '1');
    assert.equal(raw.header.get(EventHeader.MsgId), events[0].id);
    assert.equal(raw.header.get(EventHeader.TeamId), 'team_1');
    assert.equal(raw.header.get(EventHeader.Actor), 'user:usr_1');
    assert.ok(raw.header.get(EventHeader.OccurredAt));
    assert.deepEqual(JSON.parse(raw.string()), { n: 1 });
  });

  it('rejects an append on a stale version, including a second "new" aggregate', async () => {
    const a = await store.append('sandbox', 'sb_b', [{ type: 'x', data: {} }], META, 0);
    await assert.rejects(store.append('sandbox', 'sb_b', [{ type: 'x', data: {} }], META, 0), ConcurrencyError);
    await store.append('sandbox', 'sb_b', [{ type: 'y', data: {} }], META, a.seq);
    await assert.rejects(store.append('sandbox', 'sb_b', [{ type: 'z', data: {} }], META, a.seq), ConcurrencyError);
    assert.equal((await store.load('sandbox', 'sb_b')).events.length, 2);
  });

  it('loads an aggregate that has no events as empty, version 0', async () => {
    assert.deepEqual(await store.load('sandbox', 'sb_nothing'), { events: [], version: 0 });
  });

  it('streams a long read in order, filtered, up to the events present when it starts, while the caller is slow', async () => {
    const start = (await store.lastSeq()) + 1;
    for (let i = 0; i < 30; i++) {
      await store.append('template', `tpl_${i}`, [{ type: 'template.created', data: { i } }], META, 0);
      await store.append('sandbox', `sb_s${i}`, [{ type: 'sandbox.requested', data: { i } }], META, 0);
    }
    const seen: number[] = [];
    const late = store.append('sandbox', 'sb_late', [{ type: 'sandbox.requested', data: {} }], META, 0);
    const count = await store.streamRaw({ fromSeq: start, subject: env.naming.aggregateWildcard('sandbox'), batch: 7 }, async (raw) => {
      seen.push(raw.seq);
      if (seen.length % 10 === 0) await new Promise((r) => setTimeout(r, 50)); // a slow consumer keeps its buffer
    });
    await late;
    assert.ok(count === 30 || count === 31, `read ${count}`); // the late event may or may not be in
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
    assert.equal(new Set(seen).size, seen.length);
    assert.equal(seen.filter((seq) => seq >= start).length, count);
    assert.equal(await store.streamRaw({ fromSeq: (await store.lastSeq()) + 1 }, () => undefined), 0);
    const jsm = await env.nc.jetstreamManager();
    assert.equal((await jsm.consumers.list(env.naming.stream).next()).length, 0, 'no consumer left behind');
  });

  describe(CommandHandler.name, () => {
    it('resolves racing writers by reloading and deciding again', async () => {
      const handler = new CommandHandler(store, 'team', counter, { maxAttempts: 20, backoffMs: 2 });
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => handler.handle('counter1', { by: 1 }, { ...META, causationId: `inc-${i}` })),
      );
      const { state, history } = await handler.state('counter1');
      assert.equal(state, 8);
      assert.equal(history.length, 8);
      assert.deepEqual(new Set(results.map((r) => r.seq)).size, 8);
    });

    it('does not apply a command twice when its id is retried', async () => {
      const handler = new CommandHandler(store, 'team', counter);
      const once = await handler.handle('counter2', { by: 5 }, { ...META, causationId: 'same' });
      const again = await handler.handle('counter2', { by: 5 }, { ...META, causationId: 'same' });
      assert.equal(again.duplicate, true);
      assert.equal(again.seq, once.seq);
      assert.equal((await handler.state('counter2')).state, 5);
    });

    it('decides on what another writer appended since its last command, and on its own fold otherwise', async () => {
      const mine = new CommandHandler(store, 'team', counter);
      const other = new CommandHandler(store, 'team', counter);
      await mine.handle('counter5', { by: 1 }, { ...META, causationId: 'a' });
      await other.handle('counter5', { by: 10 }, { ...META, causationId: 'b' });
      // 1 + 10 + 80 passes the counter's limit of 100 only if the 10 is not seen.
      await assert.rejects(mine.handle('counter5', { by: 90 }, { ...META, causationId: 'x' }), /too big/);
      const next = await mine.handle('counter5', { by: 80 }, { ...META, causationId: 'c' });
      assert.equal(next.state, 91);
      // The other writer's retry of its command is recognised from the log, not decided again.
      assert.equal((await mine.handle('counter5', { by: 10 }, { ...META, causationId: 'b' })).duplicate, true);
      assert.deepEqual((await other.state('counter5')).history.map((e) => e.causationId), ['a', 'b', 'c']);
    });

    it('decides on a fold it was told was just read without reading the version again, and on the truth when the log moved meanwhile', async () => {
      const mine = new CommandHandler(store, 'team', counter);
      const other = new CommandHandler(store, 'team', counter);
      await mine.handle('counter6', { by: 1 }, { ...META, causationId: 'a' });
      await mine.state('counter6');
      let versionReads = 0;
      const counting = Object.create(store) as EventStore;
      counting.version = async (...args) => {
        versionReads++;
        return store.version(...args);
      };
      (mine as unknown as { store: EventStore }).store = counting;
      const next = await mine.handle('counter6', { by: 2 }, { ...META, causationId: 'b' }, { justRead: true });
      assert.equal(next.state, 3);
      assert.equal(versionReads, 0, 'no second read of the version');
      // Another writer moves the log past the fold: the append on the old version is refused and
      // the command decided again on what the log holds.
      await mine.state('counter6');
      await other.handle('counter6', { by: 10 }, { ...META, causationId: 'c' });
      const after = await mine.handle('counter6', { by: 4 }, { ...META, causationId: 'd' }, { justRead: true });
      assert.equal(after.state, 17);
      assert.deepEqual((await other.state('counter6')).history.map((e) => e.causationId), ['a', 'b', 'c', 'd']);
    });

    it('passes decider errors through and appends nothing', async () => {
      const handler = new CommandHandler(store, 'team', counter);
      await assert.rejects(handler.handle('counter3', { by: 1000 }, META), /too big/);
      assert.equal((await store.load('team', 'counter3')).version, 0);
    });

    it('gives up with concurrency_conflict after bounded attempts', async () => {
      // A store whose append always conflicts: the handler must stop, not spin.
      const conflicting = Object.create(store) as EventStore;
      conflicting.append = async () => {
        throw new ConcurrencyError('s', 0);
      };
      const handler = new CommandHandler(conflicting, 'team', counter, { maxAttempts: 3, backoffMs: 1 });
      await assert.rejects(handler.handle('counter4', { by: 1 }, META), (e: { code?: string }) => e.code === ErrorCode.ConcurrencyConflict);
    });
  });
});

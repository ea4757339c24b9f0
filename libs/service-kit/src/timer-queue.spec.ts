import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { TimerQueue } from './timer-queue';

describe(TimerQueue.name, () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('runs deadlines in due order, equal ones in the order they were scheduled', () => {
    const q = new TimerQueue();
    const ran: string[] = [];
    q.schedule(30, () => ran.push('c'));
    q.schedule(10, () => ran.push('a'));
    q.schedule(20, () => ran.push('b1'));
    q.schedule(20, () => ran.push('b2'));
    assert.equal(q.size, 4);
    mock.timers.tick(9);
    assert.deepEqual(ran, []);
    mock.timers.tick(1);
    assert.deepEqual(ran, ['a']);
    mock.timers.tick(20);
    assert.deepEqual(ran, ['a', 'b1', 'b2', 'c']);
    assert.equal(q.size, 0);
    assert.equal(q.armed, false, 'nothing left: no timer armed');
  });

  it('a cancelled deadline never runs, and cancelling the last one disarms the timer', () => {
    const q = new TimerQueue();
    const ran: number[] = [];
    const first = q.schedule(10, () => ran.push(1));
    const second = q.schedule(20, () => ran.push(2));
    first.cancel();
    first.cancel(); // twice is once
    assert.equal(q.size, 1);
    mock.timers.tick(15);
    assert.deepEqual(ran, []);
    second.cancel();
    assert.equal(q.size, 0);
    assert.equal(q.armed, false);
    mock.timers.tick(100);
    assert.deepEqual(ran, []);
  });

  it('keeps a thousand deadlines on one Node timer', () => {
    mock.timers.reset(); // count the real setTimeout calls
    const real = globalThis.setTimeout;
    let armed = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      armed++;
      return real(...args);
    }) as typeof setTimeout;
    const q = new TimerQueue();
    try {
      // Latest first is the worst order for a queue that re-arms on an earlier deadline; the
      // earliest ones come last, so the timer is re-armed at most for each new minimum.
      const handles = [];
      for (let i = 0; i < 1000; i++) handles.push(q.schedule(60_000 + i, () => undefined));
      assert.equal(q.size, 1000);
      assert.equal(armed, 1, 'one timer for every later deadline');
      for (const h of handles) h.cancel();
      assert.equal(q.size, 0);
    } finally {
      globalThis.setTimeout = real;
      q.clear();
    }
  });

  it('a callback that throws does not stop the others; its error goes to onError', () => {
    const errors: unknown[] = [];
    const q = new TimerQueue({ onError: (e) => errors.push(e) });
    const ran: number[] = [];
    q.schedule(5, () => ran.push(1));
    q.schedule(5, () => {
      throw new Error('boom');
    });
    q.schedule(5, () => ran.push(3));
    mock.timers.tick(5);
    assert.deepEqual(ran, [1, 3]);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /boom/);
  });

  it('a callback may cancel a deadline due in the same turn, and schedule new ones', () => {
    const q = new TimerQueue();
    const ran: string[] = [];
    let later: { cancel(): void } | undefined;
    q.schedule(5, () => {
      ran.push('first');
      later!.cancel();
      q.schedule(0, () => ran.push('next turn'));
    });
    later = q.schedule(5, () => ran.push('cancelled'));
    mock.timers.tick(5);
    assert.deepEqual(ran, ['first', 'next turn']);
    assert.equal(q.size, 0);
  });

  it('an earlier deadline re-arms the timer; cancelled ones are dropped in bulk', () => {
    const q = new TimerQueue();
    const ran: number[] = [];
    const handles = [];
    for (let i = 0; i < 200; i++) handles.push(q.schedule(1000 + i, () => ran.push(i)));
    for (let i = 0; i < 150; i++) handles[i].cancel();
    assert.equal(q.size, 50);
    q.schedule(1, () => ran.push(-1));
    mock.timers.tick(1);
    assert.deepEqual(ran, [-1]);
    mock.timers.tick(2000);
    assert.deepEqual(ran, [-1, ...Array.from({ length: 50 }, (_, i) => 150 + i)]);
    assert.equal(q.size, 0);
  });

  it('agrees with a sorted list under random schedules and cancels', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const q = new TimerQueue();
    const fired: number[] = [];
    const expected: Array<{ due: number; id: number }> = [];
    const handles = new Map<number, { cancel(): void }>();
    for (let id = 0; id < 2000; id++) {
      const delay = Math.floor(random() * 5000);
      handles.set(id, q.schedule(delay, () => fired.push(id)));
      expected.push({ due: delay, id });
    }
    const cancelled = new Set<number>();
    for (let i = 0; i < 900; i++) {
      const id = Math.floor(random() * 2000);
      handles.get(id)!.cancel();
      cancelled.add(id);
    }
    assert.equal(q.size, 2000 - cancelled.size);
    for (let t = 0; t <= 5000; t += 97) mock.timers.tick(97);
    const want = expected.filter((e) => !cancelled.has(e.id)).sort((a, b) => a.due - b.due || a.id - b.id).map((e) => e.id);
    assert.deepEqual(fired, want);
    assert.equal(q.size, 0);
    assert.equal(q.armed, false);
  });
});

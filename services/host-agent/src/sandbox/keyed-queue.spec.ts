import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedQueue } from './keyed-queue';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(KeyedQueue.name, () => {
  it('runs tasks of one key in order, even when the first is slower', async () => {
    const q = new KeyedQueue();
    const order: string[] = [];
    await Promise.all([
      q.run('a', async () => { await delay(20); order.push('create'); }),
      q.run('a', async () => { order.push('destroy'); }),
    ]);
    assert.deepEqual(order, ['create', 'destroy']);
  });
  it('runs different keys concurrently', async () => {
    const q = new KeyedQueue();
    const order: string[] = [];
    await Promise.all([
      q.run('a', async () => { await delay(20); order.push('a'); }),
      q.run('b', async () => { order.push('b'); }),
    ]);
    assert.deepEqual(order, ['b', 'a']);
  });
  it('keeps going after a task fails, and forgets idle keys', async () => {
    const q = new KeyedQueue();
    await assert.rejects(q.run('a', async () => { throw new Error('x'); }));
    assert.equal(await q.run('a', async () => 42), 42);
    await delay(1);
    assert.equal(q.size, 0);
  });
  it('idle() waits for every queued task, including one queued behind a running one', async () => {
    const q = new KeyedQueue();
    const done: string[] = [];
    void q.run('a', async () => { await delay(20); done.push('a1'); });
    void q.run('a', async () => { await delay(5); done.push('a2'); });
    void q.run('b', async () => { throw new Error('a failed task still ends'); }).catch(() => undefined);
    await q.idle();
    assert.deepEqual(done, ['a1', 'a2']);
    assert.equal(q.size, 0);
    await q.idle(); // nothing queued: answers at once
  });
});

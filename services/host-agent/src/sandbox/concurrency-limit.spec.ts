import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimit } from './concurrency-limit';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(ConcurrencyLimit.name, () => {
  it('never runs more than its limit at once, and runs every task in arrival order', async () => {
    const limit = new ConcurrencyLimit(3);
    let now = 0;
    let most = 0;
    const started: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit.run(async () => {
          started.push(i);
          most = Math.max(most, ++now);
          await delay(2 + (i % 3));
          now -= 1;
        }),
      ),
    );
    assert.equal(most, 3);
    assert.deepEqual(started, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(limit.pending, 0);
  });

  it('frees the slot of a task that failed', async () => {
    const limit = new ConcurrencyLimit(1);
    await assert.rejects(limit.run(async () => { throw new Error('teardown failed'); }), /teardown failed/);
    assert.equal(await limit.run(async () => 7), 7);
    assert.equal(limit.pending, 0);
  });

  it('refuses a limit below 1', () => {
    assert.throws(() => new ConcurrencyLimit(0), /at least 1/);
  });
});

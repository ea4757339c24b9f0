import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SharedWindow, WindowExchange } from '@wrenn/db';
import { BatchedRateCounter, SharedWindows } from './batched-rate.counter';

/** Stands in for PostgreSQL: one window that never moves, and a switch that makes exchanges fail. */
class FakeWindows implements SharedWindows {
  readonly rows = new Map<string, SharedWindow>();
  exchanges: Array<{ adds: Array<readonly [string, number]>; reads: string[] }> = [];
  failing = false;
  async exchange(_windowSec: number, adds: ReadonlyArray<readonly [string, number]>, reads: readonly string[]): Promise<WindowExchange> {
    this.exchanges.push({ adds: [...adds], reads: [...reads] });
    await new Promise((r) => setImmediate(r));
    if (this.failing) throw new Error('connection refused');
    for (const [bucket, hits] of adds) {
      const row = this.rows.get(bucket) ?? { win: 0, current: 0, previous: 0 };
      this.rows.set(bucket, { ...row, current: row.current + hits });
    }
    const windows = new Map<string, SharedWindow>();
    for (const b of [...adds.map(([b]) => b), ...reads]) if (this.rows.has(b)) windows.set(b, this.rows.get(b)!);
    return { nowSec: 1, windows };
  }
}

describe(BatchedRateCounter.name, () => {
  it('reads a new bucket once however many calls arrive together, and writes nothing per call', async () => {
    const windows = new FakeWindows();
    const c = new BatchedRateCounter(windows, { windowSec: 60, flushMs: 0 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => c.hit([{ bucket: 'k', max: 100 }])));
    assert.ok(answers.every((a) => a === 0));
    assert.deepEqual(windows.exchanges, [{ adds: [], reads: ['k'] }]);
    await c.flush();
    assert.equal(windows.rows.get('k')?.current, 20, 'one exchange adds all twenty');
    await c.close();
  });

  it('judges on what another replica added, once read', async () => {
    const windows = new FakeWindows();
    windows.rows.set('k', { win: 0, current: 9, previous: 0 });
    const c = new BatchedRateCounter(windows, { windowSec: 60, flushMs: 0 });
    assert.equal(await c.hit([{ bucket: 'k', max: 10 }]), 0, 'the 10th call');
    assert.ok((await c.hit([{ bucket: 'k', max: 10 }])) > 0, 'the 11th is refused');
    await c.close();
  });

  it('keeps counted calls through a failed exchange and sends them with the next', async () => {
    const windows = new FakeWindows();
    const errors: unknown[] = [];
    const c = new BatchedRateCounter(windows, { windowSec: 60, flushMs: 0, onError: (e) => errors.push(e) });
    for (let i = 0; i < 3; i++) await c.hit([{ bucket: 'k', max: 5 }]);
    windows.failing = true;
    await c.flush();
    assert.equal(errors.length, 1);
    assert.equal(await c.hit([{ bucket: 'k', max: 5 }]), 0);
    assert.equal(await c.hit([{ bucket: 'k', max: 5 }]), 0);
    assert.ok((await c.hit([{ bucket: 'k', max: 5 }])) > 0, 'still refused on its own count while PostgreSQL is away');
    windows.failing = false;
    await c.flush();
    assert.equal(windows.rows.get('k')?.current, 6, 'nothing lost');
    await c.close();
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CleanupStack } from './cleanup-stack';

describe(CleanupStack.name, () => {
  it('undoes in reverse order of acquisition', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.push('dir', () => order.push('dir'));
    stack.push('mount', () => order.push('mount'));
    stack.push('process', async () => order.push('process'));
    await stack.run();
    assert.deepEqual(order, ['process', 'mount', 'dir']);
  });

  it('runs only once', async () => {
    let calls = 0;
    const stack = new CleanupStack();
    stack.push('x', () => calls++);
    await stack.run();
    await stack.run();
    assert.equal(calls, 1);
  });

  it('keeps going past failures and reports all of them by name', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.push('a', () => order.push('a'));
    stack.push('b', () => {
      throw new Error('busy');
    });
    stack.push('c', async () => {
      throw new Error('gone wrong');
    });
    await assert.rejects(stack.run(), (error: AggregateError) => {
      assert.equal(error.errors.length, 2);
      assert.match(error.message, /c: gone wrong/);
      assert.match(error.message, /b: busy/);
      return true;
    });
    assert.deepEqual(order, ['a']);
  });

  it('executes an undo pushed after it ran immediately', async () => {
    const stack = new CleanupStack();
    await stack.run();
    let released = false;
    stack.push('late', () => {
      released = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(released, true);
  });

  it('rethrows the original error after rolling back', async () => {
    const stack = new CleanupStack();
    let undone = false;
    stack.push('x', () => (undone = true));
    await assert.rejects(stack.rollback(new Error('step 3 failed')), /step 3 failed/);
    assert.equal(undone, true);
  });
});

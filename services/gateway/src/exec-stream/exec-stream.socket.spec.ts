import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { drained, InputQueue } from './exec-stream.socket';

const stdin = (bytes: number) => ({ kind: 'stdin' as const, data: new Uint8Array(bytes) });

describe(InputQueue.name, () => {
  it('stops reading the socket past the high mark and resumes once the command took it below the low mark', async () => {
    const calls: string[] = [];
    const queue = new InputQueue({ pause: () => calls.push('pause'), resume: () => calls.push('resume'), highBytes: 100, lowBytes: 40 });
    queue.push(stdin(60));
    queue.push({ kind: 'resize', cols: 80, rows: 24 });
    assert.deepEqual(calls, []);
    queue.push(stdin(60));
    assert.deepEqual(calls, ['pause'], 'paused once past 100 bytes held');
    queue.push(stdin(10));
    assert.deepEqual(calls, ['pause'], 'paused only once');
    queue.end();
    const taken: string[] = [];
    for await (const item of queue) {
      taken.push(item.kind);
      if (taken.length === 1) assert.deepEqual(calls, ['pause'], '70 bytes left: still above the low mark');
    }
    assert.deepEqual(taken, ['stdin', 'resize', 'stdin', 'stdin']);
    assert.deepEqual(calls, ['pause', 'resume']);
  });
});

describe('drained', () => {
  it('waits while a client has more output queued than the low mark, and not after it goes', async () => {
    const ws = { bufferedAmount: 5_000, readyState: WebSocket.OPEN as number };
    let done = false;
    const waiting = drained(ws, 1_000).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(done, false);
    ws.bufferedAmount = 500;
    await waiting;
    const gone = { bufferedAmount: 5_000, readyState: WebSocket.CLOSED as number };
    await drained(gone, 1_000);
  });
});

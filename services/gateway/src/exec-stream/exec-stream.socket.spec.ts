import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { createLogger } from '@wrenn/logger';
import { WebSocket } from 'ws';
import type { SandboxDataService } from '../services/sandbox-data.service';
import { attachExecStream, CONTROL_FLOOD_CLOSE, drained, InputQueue } from './exec-stream.socket';

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

/**
 * A client flooding control messages at a command that takes none (a stalled data plane): the
 * gateway's real WebSocket server on a real socket, with a data service whose command never reads
 * its input and never ends.
 */
describe('exec stream control flood', () => {
  async function flood(limits: { controlPerSec: number; controlQueueMax: number }, messages: number) {
    const queues: InputQueue[] = [];
    const never = { execStream: async (_c: unknown, _id: string, _s: unknown, _in: unknown, signal: AbortSignal) => ({
      async *[Symbol.asyncIterator]() { await new Promise((r) => signal.addEventListener('abort', r)); },
    }) } as unknown as SandboxDataService;
    const server = createServer();
    attachExecStream(server, never, async () => ({ teamId: 'team_1', actor: { kind: 'api_key', id: 'key_1' } }), createLogger('test'), { ...limits, observe: (q) => queues.push(q) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/sandboxes/sb_1/exec/stream`);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    const frames: any[] = [];
    ws.on('message', (m) => frames.push(JSON.parse(m.toString())));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    ws.send(JSON.stringify({ type: 'start', cmd: 'sh' }));
    const resize = JSON.stringify({ type: 'resize', cols: 80, rows: 24 });
    for (let i = 0; i < messages && ws.readyState === WebSocket.OPEN; i++) ws.send(resize);
    const close = await closed;
    global.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    server.close();
    return { close, frames, queue: queues[0], heapGrowth: heapAfter - heapBefore };
  }

  it('cuts a client flooding control messages off at the rate cap with close code 1008 control_flood', async () => {
    const { close, frames, queue } = await flood({ controlPerSec: 50, controlQueueMax: 1000 }, 100_000);
    assert.deepEqual(close, { code: CONTROL_FLOOD_CLOSE.code, reason: CONTROL_FLOOD_CLOSE.reason });
    assert.equal(frames.at(-1).type, 'error');
    assert.equal(frames.at(-1).code, 'rate_limited');
    assert.ok(queue.maxPendingControl <= 50, `at most the second's budget was queued (${queue.maxPendingControl})`);
  });

  it('never holds more control messages than the queue cap, and the gateway heap stays flat', async () => {
    const { close, queue, heapGrowth } = await flood({ controlPerSec: 1_000_000, controlQueueMax: 64 }, 100_000);
    assert.deepEqual(close, { code: CONTROL_FLOOD_CLOSE.code, reason: CONTROL_FLOOD_CLOSE.reason });
    assert.equal(queue.maxPendingControl, 64, 'the queue filled to its cap and no further');
    // 100,000 queued resizes would hold tens of MB; a generous bound on what the flood may leave.
    assert.ok(heapGrowth < 16 * 1024 * 1024, `heap grew ${heapGrowth} bytes`);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Platform, startPlatform } from './platform';

/** Peak resident memory of a process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'))!;
  return Number(line.replace(/\D+/g, '')) / 1024;
}

/** A deterministic byte stream of `total` bytes, hashed as it is produced. */
function generated(total: number, hash: ReturnType<typeof createHash>): ReadableStream<Uint8Array> {
  const block = Buffer.alloc(1 << 20);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const n = Math.min(block.length, total - sent);
      // Every block differs (its offset is written into it), so a reordered or lost chunk shows.
      block.fill(sent % 251);
      block.writeBigUInt64LE(BigInt(sent), 0);
      const chunk = Buffer.from(block.subarray(0, n));
      hash.update(chunk);
      sent += n;
      controller.enqueue(chunk);
    },
  });
}

interface WsMessage {
  type: string;
  data?: string;
  exit_code?: number;
  pid?: number;
  code?: string;
}

/** Runs one WebSocket exec session: sends `start`, then `inputs`, collects everything until close. */
function wsExec(url: string, headers: Record<string, string>, start: object, inputs: object[], timeoutMs = 20_000): Promise<WsMessage[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const got: WsMessage[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no exit within ${timeoutMs} ms: ${JSON.stringify(got)}`));
    }, timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'start', ...start })));
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString()) as WsMessage;
      got.push(msg);
      if (msg.type === 'started') for (const input of inputs) ws.send(JSON.stringify(input));
    });
    ws.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    ws.on('error', reject);
  });
}

const text = (messages: WsMessage[], type: string) =>
  messages.filter((m) => m.type === type).map((m) => Buffer.from(m.data ?? '', 'base64').toString()).join('');

describe('data plane: exec and files', () => {
  let p: Platform;
  let id = '';
  before(async () => {
    // A heap limit far below the 1 GiB file below: streaming, not buffering, is what passes.
    p = await startPlatform('dataplane', { NODE_OPTIONS: '--max-old-space-size=256' });
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 512 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    id = created.body.id;
  });
  after(async () => {
    if (id) await p.api('DELETE', `/v1/sandboxes/${id}`).catch(() => undefined);
    await p.stop();
  });

  it('runs a command with env, cwd and user', async () => {
    const r = await p.api('POST', `/v1/sandboxes/${id}/exec`, {
      cmd: 'sh',
      args: ['-c', 'echo "$GREETING"; pwd; id -un'],
      env: { GREETING: 'hello env' },
      cwd: '/tmp',
      user: 'user',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.stdout, 'hello env\n/tmp\nuser\n');
    const missing = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'no-such-command' });
    assert.equal(missing.body.exit_code, 127);
    const badUser = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'true', user: 'nobody-here' });
    assert.equal(badUser.status, 400);
    assert.equal(badUser.body.error.code, 'validation_failed');
  });

  it('streams an exec over WebSocket with stdin', async () => {
    const wsUrl = `${p.url.replace('http', 'ws')}/v1/sandboxes/${id}/exec/stream`;
    const got = await wsExec(wsUrl, p.authHeaders(), { cmd: 'sh', args: ['-c', 'read line; echo "got: $line"; echo err >&2'] }, [
      { type: 'stdin', data: Buffer.from('hello over ws\n').toString('base64') },
      { type: 'eof' },
    ]);
    assert.equal(got[0].type, 'started');
    assert.equal(text(got, 'stdout'), 'got: hello over ws\n');
    assert.equal(text(got, 'stderr'), 'err\n');
    assert.deepEqual(got.at(-1), { type: 'exit', exit_code: 0, timed_out: false });
  });

  it('runs an interactive shell on a PTY over WebSocket', async () => {
    const wsUrl = `${p.url.replace('http', 'ws')}/v1/sandboxes/${id}/exec/stream`;
    const got = await wsExec(wsUrl, p.authHeaders(), { cmd: 'bash', args: ['--norc', '-i'], pty: true, cols: 100, rows: 30 }, [
      { type: 'stdin', data: Buffer.from('echo $((6 * 7)); stty size\nexit\n').toString('base64') },
    ]);
    const out = text(got, 'stdout');
    assert.match(out, /42/);
    assert.match(out, /30 100/);
    assert.equal(got.at(-1)?.type, 'exit');
  });

  it('reports stream errors in the protocol', async () => {
    const wsUrl = `${p.url.replace('http', 'ws')}/v1/sandboxes/sb_00000000000000000000000000/exec/stream`;
    const got = await wsExec(wsUrl, p.authHeaders(), { cmd: 'true' }, []);
    assert.equal(got[0].type, 'error');
    assert.equal(got[0].code, 'sandbox_not_found');
  });

  it('refuses a malformed resize as validation_failed, not an internal error', async () => {
    const wsUrl = `${p.url.replace('http', 'ws')}/v1/sandboxes/${id}/exec/stream`;
    const got = await wsExec(wsUrl, p.authHeaders(), { cmd: 'cat', pty: true }, [{ type: 'resize', cols: 'wide', rows: 30 }]);
    const error = got.find((m) => m.type === 'error') as (WsMessage & { code?: string; status?: number }) | undefined;
    assert.ok(error, JSON.stringify(got));
    assert.equal(error.code, 'validation_failed');
    assert.equal(error.status, 400);
  });

  it('refuses a signal it does not offer rather than sending SIGKILL in its place', async () => {
    const wsUrl = `${p.url.replace('http', 'ws')}/v1/sandboxes/${id}/exec/stream`;
    const got = await wsExec(wsUrl, p.authHeaders(), { cmd: 'sleep', args: ['30'] }, [{ type: 'signal', signal: 'SIGINT' }]);
    const error = got.find((m) => m.type === 'error') as (WsMessage & { code?: string }) | undefined;
    assert.ok(error, JSON.stringify(got));
    assert.equal(error.code, 'validation_failed');
  });

  it('uploads (raw and multipart), lists and downloads files', async () => {
    const put = await fetch(`${p.url}/v1/sandboxes/${id}/files?path=/home/user/notes/a.txt&user=user`, { method: 'PUT', body: 'alpha\n', headers: { ...p.authHeaders(), 'content-type': 'application/json' } });
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { path: '/home/user/notes/a.txt', size: 6 });
    const form = new FormData();
    form.append('file', new Blob(['beta\n']), 'b.txt');
    const post = await fetch(`${p.url}/v1/sandboxes/${id}/files?path=/home/user/notes/b.txt&user=user`, { method: 'POST', body: form, headers: p.authHeaders() });
    assert.equal(post.status, 200);
    const list = await p.api('GET', `/v1/sandboxes/${id}/files/list?path=/home/user/notes`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.entries.map((e: { name: string; type: string; size: number }) => [e.name, e.type, e.size]), [['a.txt', 'file', 6], ['b.txt', 'file', 5]]);
    assert.equal(await (await fetch(`${p.url}/v1/sandboxes/${id}/files?path=/home/user/notes/b.txt`, { headers: p.authHeaders() })).text(), 'beta\n');
    const owner = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'stat', args: ['-c', '%U', '/home/user/notes/a.txt'] });
    assert.equal(owner.body.stdout, 'user\n');
    const missing = await p.api('GET', `/v1/sandboxes/${id}/files?path=/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'file_not_found');
    const noPath = await p.api('GET', `/v1/sandboxes/${id}/files`);
    assert.equal(noPath.status, 400);
  });

  it('lists a directory of more entries than a page a page at a time, with an opaque cursor', async () => {
    // 1,200 entries: more than the page maximum (WRENN_LIST_DIR_PAGE_MAX, 1000).
    const made = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sh', args: ['-c', 'mkdir -p /tmp/many && cd /tmp/many && seq -f "f%04g" 1 1200 | xargs touch && ls | wc -l'] });
    assert.equal(made.body.stdout, '1200\n', JSON.stringify(made.body));
    const list = (query: string) => p.api('GET', `/v1/sandboxes/${id}/files/list?path=/tmp/many${query}`);
    const whole = await list('');
    assert.equal(whole.status, 200);
    assert.equal(whole.body.entries.length, 1000, 'no limit: the page maximum');
    assert.equal(typeof whole.body.next_cursor, 'string');
    const rest = await list(`&cursor=${encodeURIComponent(whole.body.next_cursor)}`);
    assert.equal(rest.body.entries.length, 200);
    assert.equal(rest.body.next_cursor, null);
    const above = await list('&limit=5000');
    assert.equal(above.body.entries.length, 1000, 'a limit above the maximum is the maximum');

    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(`&limit=450${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      names.push(...page.body.entries.map((e: { name: string }) => e.name));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(names, Array.from({ length: 1200 }, (_, i) => `f${String(i + 1).padStart(4, '0')}`), 'every entry once, in order');

    const elsewhere = await p.api('GET', `/v1/sandboxes/${id}/files/list?path=/tmp&cursor=${encodeURIComponent(whole.body.next_cursor)}`);
    assert.equal(elsewhere.status, 400, 'a cursor of another directory');
    const forged = await list('&cursor=not-a-cursor');
    assert.equal(forged.status, 400);
    assert.equal(forged.body.error.code, 'validation_failed');
  });

  it('answers 400 to a multipart upload whose body ends before its closing boundary', async () => {
    const body = '--cut\r\ncontent-disposition: form-data; name="file"; filename="c.txt"\r\ncontent-type: text/plain\r\n\r\nhalf a fi';
    const res = await fetch(`${p.url}/v1/sandboxes/${id}/files?path=/home/user/notes/c.txt&user=user`, {
      method: 'POST',
      body,
      headers: { ...p.authHeaders(), 'content-type': 'multipart/form-data; boundary=cut' },
    });
    const answer = (await res.json()) as { error: { code: string } };
    assert.equal(res.status, 400, JSON.stringify(answer));
    assert.equal(answer.error.code, 'validation_failed');
    assert.equal((await p.api('GET', `/v1/sandboxes/${id}`)).status, 200, 'the platform still answers');
  });

  it('streams a 1 GiB file in and out byte-identical, far beyond the heap limit', { timeout: 300_000 }, async (t) => {
    const size = 1 << 30;
    const sent = createHash('sha256');
    const started = Date.now();
    const up = await fetch(`${p.url}/v1/sandboxes/${id}/files?path=/root/big.bin`, {
      method: 'PUT',
      headers: p.authHeaders(),
      body: generated(size, sent),
      duplex: 'half',
    } as RequestInit);
    assert.equal(up.status, 200, await up.clone().text());
    assert.equal(((await up.json()) as { size: number }).size, size);
    const upSecs = (Date.now() - started) / 1000;

    const received = createHash('sha256');
    let bytes = 0;
    const downStarted = Date.now();
    const down = await fetch(`${p.url}/v1/sandboxes/${id}/files?path=/root/big.bin`, { headers: p.authHeaders() });
    assert.equal(down.status, 200);
    for await (const chunk of down.body as unknown as AsyncIterable<Uint8Array>) {
      received.update(chunk);
      bytes += chunk.length;
    }
    const downSecs = (Date.now() - downStarted) / 1000;
    assert.equal(bytes, size);
    assert.equal(received.digest('hex'), sent.digest('hex'));
    const peak = peakRssMiB(p.process.pid!);
    t.diagnostic(`1 GiB up ${upSecs.toFixed(1)} s, down ${downSecs.toFixed(1)} s; platform peak RSS ${peak.toFixed(0)} MiB`);
    assert.ok(peak < 800, `the platform never held the file: peak RSS ${peak.toFixed(0)} MiB`);
    const disk = await p.api('GET', `/v1/sandboxes/${id}/metrics`);
    assert.ok(disk.body.disk_bytes >= size, 'disk usage counts the file');
  });
});

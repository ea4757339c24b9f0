import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LiveEvent, WrennApiError, WrennClient } from '@wrenn/sdk';
import { eventually, within } from '@wrenn/testing';
import { Platform, startPlatform } from './platform';

/**
 * The TypeScript SDK against a live platform: account calls with the token, sandbox calls with
 * the key, exec to completion and over the WebSocket (stdin, PTY, exit codes), files streamed
 * both ways, audit, usage and live events, and errors that carry the API's code.
 */
describe('TypeScript SDK', () => {
  let p: Platform;
  let sdk: WrennClient;
  let dir: string;
  let id: string;
  before(async () => {
    p = await startPlatform('sdk', { WRENN_WARM_POOL_SIZE: '1' });
    dir = await mkdtemp(join(tmpdir(), 'wrenn-sdk-'));
    sdk = new WrennClient({ baseUrl: p.url });
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs up, logs in, makes and revokes API keys', async () => {
    const email = `sdk-${randomBytes(4).toString('hex')}@example.test`;
    const signed = await sdk.signup(email, 'a long password');
    assert.equal(signed.email, email);
    assert.equal(signed.status, 'accepted');
    const session = await sdk.login(email, 'a long password');
    assert.match(session.team_id, /^team_/);
    assert.equal((await sdk.me()).user_id, session.user_id);
    const spare = await sdk.createApiKey('spare');
    const key = await sdk.createApiKey('sdk');
    sdk.apiKey = key.key;
    assert.deepEqual((await sdk.listApiKeys()).map((k) => k.name).sort(), ['sdk', 'spare']);
    await sdk.revokeApiKey(spare.id);
    assert.deepEqual((await sdk.listApiKeys()).map((k) => k.name), ['sdk']);
    const refused = await new WrennClient({ baseUrl: p.url, apiKey: spare.key }).listSandboxes().catch((e: unknown) => e);
    assert.ok(refused instanceof WrennApiError);
    assert.equal(refused.status, 401);
    assert.equal(refused.code, 'unauthorized');
    assert.equal((await sdk.health()).status, 'ok');
    assert.match(await sdk.openapiDocument(), /^openapi: 3\.1/);
  });

  it('creates a sandbox and runs commands to completion and over the WebSocket', async () => {
    const created = await sdk.createSandbox({ memory_mb: 128 });
    id = created.id;
    assert.equal(created.state, 'running');
    assert.equal((await sdk.getSandbox(id)).id, id);
    assert.ok((await sdk.listSandboxes({ state: 'running' })).some((s) => s.id === id));
    assert.equal((await sdk.pingSandbox(id)).id, id);

    const done = await sdk.exec(id, { cmd: 'sh', args: ['-c', 'echo "$A"; exit 4'], env: { A: 'from env' } });
    assert.deepEqual([done.stdout, done.exit_code], ['from env\n', 4]);

    // stdin in, stdout and stderr apart, exit code back.
    const piped = sdk.execStream(id, { cmd: 'sh', args: ['-c', 'read line; echo "got $line"; echo oops >&2; exit 9'] });
    let out = '';
    let err = '';
    piped.on('stdout', (d: Buffer) => (out += d));
    piped.on('stderr', (d: Buffer) => (err += d));
    piped.on('started', () => piped.write('hello\n'));
    assert.deepEqual(await piped.done, { exit_code: 9, timed_out: false });
    assert.equal(out, 'got hello\n');
    assert.equal(err, 'oops\n');

    // A PTY: the command sees a terminal of the size asked for, and a resize reaches it.
    const tty = sdk.execStream(id, { cmd: 'sh', args: ['-c', 'stty size; read _; stty size'], pty: true, cols: 100, rows: 30 });
    let screen = '';
    tty.on('stdout', (d: Buffer) => {
      screen += d;
      if (screen.includes('30 100') && !screen.includes('go')) {
        tty.resize(120, 40);
        tty.write('go\r');
      }
    });
    assert.equal((await tty.done).exit_code, 0);
    assert.match(screen, /30 100[\s\S]*40 120/);

    const missing = sdk.execStream('sb_00000000000000000000000000', { cmd: 'true' });
    const error = await missing.done.catch((e: unknown) => e);
    assert.ok(error instanceof WrennApiError);
    assert.equal(error.code, 'sandbox_not_found');
  });

  it('streams files up from a path, a Readable and a multipart body, and down as a stream', async () => {
    const local = join(dir, 'blob.bin');
    const blob = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(local, blob);
    assert.equal((await sdk.uploadFile(id, { path: '/root/blob.bin' }, local)).size, blob.length);
    const hash = createHash('sha256');
    for await (const chunk of await sdk.download(id, { path: '/root/blob.bin' })) hash.update(chunk as Buffer);
    assert.equal(hash.digest('hex'), createHash('sha256').update(blob).digest('hex'));
    await sdk.downloadFile(id, { path: '/root/blob.bin' }, join(dir, 'back.bin'));
    assert.ok(blob.equals(await readFile(join(dir, 'back.bin'))));

    await sdk.upload(id, { path: 'notes/a.txt', user: 'user' }, Readable.from(['line one\n', 'line two\n']));
    assert.equal(await sdk.readFile(id, { path: '/home/user/notes/a.txt' }), 'line one\nline two\n');
    await sdk.uploadMultipart(id, { path: '/root/m.txt' }, Buffer.from('multi\r\n--part'));
    assert.equal(await sdk.readFile(id, { path: '/root/m.txt' }), 'multi\r\n--part');
    const entries = await sdk.listFiles(id, { path: '/root' });
    assert.deepEqual(entries.filter((e) => e.type === 'file' && !e.name.startsWith('.')).map((e) => e.name).sort(), ['blob.bin', 'm.txt']);

    const gone = await sdk.readFile(id, { path: '/root/nope' }).catch((e: unknown) => e);
    assert.ok(gone instanceof WrennApiError);
    assert.equal(gone.code, 'file_not_found');
    assert.ok((await sdk.sandboxMetrics(id)).memory_limit_bytes > 0);
  });

  it('follows live events, pages the audit trail and reads usage', async () => {
    const abort = new AbortController();
    const seen: LiveEvent[] = [];
    let opened: () => void = () => undefined;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const following = (async () => {
      for await (const event of sdk.events({ signal: abort.signal, onOpen: opened })) {
        seen.push(event);
        if (event.type === 'sandbox.paused') abort.abort();
      }
    })();
    try {
      // The stream starts "from now": act once the server has answered (its position is set).
      await within(open, 10_000, 'the event stream to open');
      assert.equal((await sdk.pauseSandbox(id)).state, 'paused');
      await within(following, 10_000, () => `sandbox.paused on the stream (seen: ${JSON.stringify(seen.map((e) => e.type))})`);
    } finally {
      abort.abort();
      await following.catch(() => undefined);
    }
    // The sandbox's own events, and the team's quota following its pause (evt.quota.<team>).
    assert.ok(seen.every((e) => (e.resource.type === 'sandbox' ? e.resource.id === id : e.resource.type === 'quota')), JSON.stringify(seen.map((e) => [e.type, e.resource])));
    assert.ok(seen.some((e) => e.type === 'sandbox.paused'), JSON.stringify(seen.map((e) => e.type)));
    assert.equal((await sdk.resumeSandbox(id)).state, 'running');

    const page = await sdk.audit({ resource_type: 'sandbox', resource_id: id, limit: 2 });
    assert.equal(page.entries.length, 2);
    assert.ok(page.next_cursor);
    const next = await sdk.audit({ resource_type: 'sandbox', resource_id: id, limit: 2, cursor: page.next_cursor! });
    assert.ok(next.entries[0].seq < page.entries[1].seq);
    const usage = await sdk.usage();
    assert.ok(BigInt(usage.usage.vcpu_ms) > 0n);

    const bad = await sdk.createSandbox({ memory_mb: 1 }).catch((e: unknown) => e);
    assert.ok(bad instanceof WrennApiError);
    assert.equal(bad.status, 400);
    assert.equal(bad.code, 'validation_failed');
    assert.ok(['deleting', 'deleted'].includes((await sdk.destroySandbox(id)).state));
    await eventually(async () => (await sdk.getSandbox(id)).state === 'deleted', 30_000, 'the sandbox to be deleted');
  });
});

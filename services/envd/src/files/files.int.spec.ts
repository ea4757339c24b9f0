import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, openAsBlob, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { basicAuth, EnvdHarness, startEnvd } from '@wrenn/envd-test-support';

const MiB = 1024 * 1024;
/** The streamed file: far larger than the garbage Node lets pile up before it collects. */
const SIZE = 200 * MiB;

/** Writes `size` random bytes to `path` in 1 MiB chunks and returns their sha256. */
async function randomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let written = 0; written < size; written += MiB) {
    const chunk = randomBytes(Math.min(MiB, size - written));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest('hex');
}

/** Samples envd's resident memory every 10 ms while `work` runs; answers the peak. */
async function peakRss(envd: EnvdHarness, work: () => Promise<void>): Promise<number> {
  let peak = envd.rss();
  const timer = setInterval(() => (peak = Math.max(peak, envd.rss())), 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, envd.rss());
}

describe('envd /files and /health (a real envd over plain HTTP)', () => {
  let envd: EnvdHarness;
  before(async () => {
    envd = await startEnvd();
  });
  after(async () => {
    await envd?.stop();
  });
  const url = (query: Record<string, string>) => `${envd.baseUrl}/files?${new URLSearchParams(query)}`;

  it('GET /health answers 204', async () => {
    const res = await fetch(`${envd.baseUrl}/health`);
    assert.equal(res.status, 204);
  });

  it('uploads and downloads a 200 MiB file byte for byte, twice, while envd\'s memory stays under half its size', async (t) => {
    const source = join(envd.dir, 'source.bin');
    const digest = await randomFile(source, SIZE);
    const target = join(envd.dir, 'uploaded/big.bin');

    const roundTrip = async () => {
      // As E2B's SDK sends it: multipart/form-data with one "file" part (a file-backed blob, so
      // this test process doesn't hold the file either).
      const form = new FormData();
      form.append('file', await openAsBlob(source), 'big.bin');
      const up = await envd.fetch(url({ path: target, username: 'root' }), { method: 'POST', body: form });
      assert.equal(up.status, 200, await up.clone().text());
      assert.deepEqual(await up.json(), [{ name: 'big.bin', path: target, type: 'file' }]);
      assert.equal(statSync(target).size, SIZE);

      const down = await envd.fetch(url({ path: target, username: 'root' }));
      assert.equal(down.status, 200);
      assert.equal(down.headers.get('content-length'), String(SIZE));
      const hash = createHash('sha256');
      for await (const chunk of Readable.fromWeb(down.body as ReadableStream<Uint8Array>)) hash.update(chunk as Buffer);
      assert.equal(hash.digest('hex'), digest);
    };

    // Node lets a fixed ~35-40 MiB of garbage Buffer memory pile up before it collects, whatever
    // the file's size. The file is large enough that the bound (half of it) sits far above that
    // slack and far below what holding the file — or leaking one transfer's worth — would take.
    const baseline = envd.rss();
    const firstPeak = await peakRss(envd, roundTrip);
    const secondPeak = await peakRss(envd, roundTrip);
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    const report = `baseline ${mib(baseline)}, first round trip peak ${mib(firstPeak)}, second ${mib(secondPeak)}`;
    t.diagnostic(report);
    assert.ok(firstPeak - baseline < SIZE / 2, report);
    assert.ok(secondPeak - baseline < SIZE / 2, report);
  });

  it('accepts a raw application/octet-stream body (and a gzipped one) at `path`', async () => {
    const target = join(envd.dir, 'raw/one.txt');
    let res = await envd.fetch(url({ path: target }), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: basicAuth('root') },
      body: 'raw body',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), [{ name: 'one.txt', path: target, type: 'file' }]);
    assert.equal(readFileSync(target, 'utf8'), 'raw body');

    res = await envd.fetch(url({ path: target, username: 'root' }), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
      body: gzipSync('squeezed'),
    });
    assert.equal(res.status, 200);
    assert.equal(readFileSync(target, 'utf8'), 'squeezed');
  });

  it('writes several files in one multipart upload, each at the path in its filename (the SDK\'s multi-file write)', async () => {
    const form = new FormData();
    form.append('file', new Blob(['first']), join(envd.dir, 'multi/a/first.txt'));
    form.append('file', new Blob(['second']), join(envd.dir, 'multi/b/second.txt'));
    form.append('other', 'ignored field');
    const res = await envd.fetch(url({ username: 'root' }), { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const written = (await res.json()) as Array<{ path: string }>;
    assert.deepEqual(written.map((w) => w.path).sort(), [join(envd.dir, 'multi/a/first.txt'), join(envd.dir, 'multi/b/second.txt')]);
    assert.equal(readFileSync(join(envd.dir, 'multi/a/first.txt'), 'utf8'), 'first');
    assert.equal(readFileSync(join(envd.dir, 'multi/b/second.txt'), 'utf8'), 'second');
  });

  it('refuses two parts for the same path, an unsupported content type, and a raw body without path (400)', async () => {
    const form = new FormData();
    form.append('file', new Blob(['1']), join(envd.dir, 'dup.txt'));
    form.append('file', new Blob(['2']), join(envd.dir, 'dup.txt'));
    let res = await envd.fetch(url({ username: 'root' }), { method: 'POST', body: form });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: number }).code, 400);

    res = await envd.fetch(url({ path: join(envd.dir, 'x'), username: 'root' }), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(res.status, 400);
    await res.body?.cancel();

    res = await envd.fetch(url({ username: 'root' }), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'x' });
    assert.equal(res.status, 400);
    await res.body?.cancel();
  });

  it('answers errors as E2B\'s envd does: JSON {code, message} with 404, 400 and 401', async () => {
    let res = await envd.fetch(url({ path: join(envd.dir, 'nothing-here'), username: 'root' }));
    assert.equal(res.status, 404);
    const body = (await res.json()) as { code: number; message: string };
    assert.equal(body.code, 404);
    assert.match(body.message, /does not exist/);

    mkdirSync(join(envd.dir, 'a-dir'), { recursive: true });
    res = await envd.fetch(url({ path: join(envd.dir, 'a-dir'), username: 'root' }));
    assert.equal(res.status, 400);
    await res.body?.cancel();

    res = await envd.fetch(url({ path: join(envd.dir, 'x'), username: 'no-such-user-here' }));
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });

  it('takes relative paths from the user\'s home and leaves ".." to E2B\'s rules', async () => {
    // From root's home, "../<dir>/rel.txt" is <dir>/rel.txt: relative paths are joined, then normalised.
    const res = await envd.fetch(url({ path: `..${envd.dir}/rel.txt`, username: 'root' }), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'relative',
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as Array<{ path: string }>)[0].path, join(envd.dir, 'rel.txt'));
    assert.ok(existsSync(join(envd.dir, 'rel.txt')));

    const download = await envd.fetch(url({ path: `..${envd.dir}/rel.txt`, username: 'root' }));
    assert.equal(await download.text(), 'relative');
  });
});

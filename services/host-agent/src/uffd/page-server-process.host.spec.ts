import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffHeader, encodeHeader, fullHeader, memfileName } from '../snapshot';
import { loadTestGuest } from '@wrenn/host-agent-test-support';
import { PageServerProcess } from './page-server-process';

const PAGE = 4096;
const PAGES = 256;
const SIZE = PAGES * PAGE;

const pageOf = (g: number, p: number) => Buffer.alloc(PAGE, ((g + 1) * 13 + p) % 251 || 1);

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const gone = (pid: number) => !existsSync(`/proc/${pid}`) || require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

describe(PageServerProcess.name, () => {
  let root: string;
  let headerPath: string;
  let expected: Buffer;
  const started: PageServerProcess[] = [];
  let n = 0;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'wrenn-uffd-proc-'));
    mkdirSync(join(root, 'mem'));
    // Two generations: g0 holds every page, g1 rewrote the odd ones.
    const g0 = Buffer.concat(Array.from({ length: PAGES }, (_, p) => pageOf(0, p)));
    const g1 = Buffer.alloc(SIZE);
    for (let p = 1; p < PAGES; p += 2) pageOf(1, p).copy(g1, p * PAGE);
    writeFileSync(join(root, 'mem', memfileName('g0')), g0);
    writeFileSync(join(root, 'mem', memfileName('g1')), g1);
    const h = diffHeader(fullHeader('g0', SIZE, PAGE), 'g1', Array.from({ length: PAGES / 2 }, (_, i) => 2 * i + 1));
    headerPath = join(root, 'mem', 'header.g1');
    writeFileSync(headerPath, encodeHeader(h));
    expected = Buffer.concat(Array.from({ length: PAGES }, (_, p) => pageOf(p % 2, p)));
  });
  after(async () => {
    for (const s of started) await s.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const start = async (headerFile = headerPath) => {
    const s = await PageServerProcess.start({ socketPath: join(root, `p${n++}.sock`), headerPath: headerFile, memfileDir: join(root, 'mem'), logPath: join(root, 'page-server.log') });
    started.push(s);
    return s;
  };

  it('serves a guest from its own process and exits when the guest hangs up', async () => {
    const s = await start();
    assert.ok(await s.alive());
    const guest = new (loadTestGuest().UffdGuest)({ socketPath: s.socketPath, pageSize: PAGE, regions: [{ offset: 0, size: SIZE }] });
    try {
      await guest.touchAll(4);
      assert.ok(guest.read(0, SIZE).equals(expected));
    } finally {
      guest.close();
    }
    await until('the page server to exit', () => gone(s.pid));
    const st = await s.stats();
    assert.equal(st.state, 'closed');
    assert.equal(st.bytesCopied, SIZE);
    assert.equal(st.errors, 0);
    await s.stop();
    assert.equal(existsSync(s.socketPath), false);
  });

  it('is adopted by pid and start time, and stopped by whoever adopted it', async () => {
    const s = await start();
    const adopted = await PageServerProcess.adopt(s.ref);
    assert.ok(adopted);
    assert.equal(await PageServerProcess.adopt({ ...s.ref, startTime: '1' }), null, 'a reused pid is not ours');
    await adopted.stop();
    assert.ok(gone(s.pid));
    assert.equal(await s.alive(), false);
    assert.equal(existsSync(s.socketPath), false);
    assert.equal(await PageServerProcess.adopt(s.ref), null);
  });

  it('fails to start with the reason when the header is unreadable, leaving nothing behind', async () => {
    const bad = join(root, 'mem', 'header.bad');
    writeFileSync(bad, 'garbage');
    const socketPath = join(root, 'bad.sock');
    await assert.rejects(
      PageServerProcess.start({ socketPath, headerPath: bad, memfileDir: join(root, 'mem') }),
      /page server: snapshot header corrupt/,
    );
    assert.equal(existsSync(socketPath), false);
    assert.equal(existsSync(`${socketPath}.stats.json`), false);
  });
});

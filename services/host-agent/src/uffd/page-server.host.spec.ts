import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotHeader, dataPages, diffHeader, fullHeader, memfileName, resolvePage } from '../snapshot';
import { PageServer, PageServerStats } from './index';
import { loadTestGuest, NativeUffdGuest } from '@wrenn/host-agent-test-support';

const PAGE = 4096;
const PAGES = 1024; // 4 MiB of guest memory
const SIZE = PAGES * PAGE;

function pageContent(g: number, p: number): Buffer {
  const b = Buffer.alloc(PAGE, (g * 37 + p * 11 + 1) % 255 || 1);
  b.writeUInt32LE(p, 0);
  b.writeUInt32LE(g + 1, 4);
  return b;
}

function writeMemfile(dir: string, buildId: string, g: number, written: Iterable<number>): void {
  const fd = openSync(join(dir, memfileName(buildId)), 'wx');
  try {
    ftruncateSync(fd, SIZE);
    for (const p of written) writeSync(fd, pageContent(g, p), 0, PAGE, p * PAGE);
  } finally {
    closeSync(fd);
  }
}

/**
 * Four generations: a Full with holes (every 5th page never written), then three Diffs with
 * overlapping dirty sets. Returns the header and the bytes every page must read as.
 */
function buildChain(dir: string): { header: SnapshotHeader; expected: Buffer } {
  const range = (f: (p: number) => boolean) => Array.from({ length: PAGES }, (_, p) => p).filter(f);
  const writes = [range((p) => p % 5 !== 0), range((p) => p % 3 === 0), range((p) => p % 7 === 1 || (p >= 200 && p < 260)), range((p) => p % 11 === 2)];
  writes.forEach((w, g) => writeMemfile(dir, `gen${g}`, g, w));
  let header = fullHeader('gen0', SIZE, PAGE, dataPages(join(dir, memfileName('gen0')), PAGE));
  for (let g = 1; g < writes.length; g++) header = diffHeader(header, `gen${g}`, dataPages(join(dir, memfileName(`gen${g}`)), PAGE));
  const expected = Buffer.alloc(SIZE);
  writes.forEach((w, g) => w.forEach((p) => pageContent(g, p).copy(expected, p * PAGE)));
  return { header, expected };
}

const fdCount = () => readdirSync('/proc/self/fd').length;
const taskCount = () => readdirSync('/proc/self/task').length;

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Three regions of one memory, announced out of order and not starting at offset 0 first. */
const REGIONS = [
  { offset: 512 * PAGE, size: 512 * PAGE },
  { offset: 0, size: 256 * PAGE },
  { offset: 256 * PAGE, size: 256 * PAGE },
];

describe(PageServer.name, () => {
  let root: string;
  let chain: { header: SnapshotHeader; expected: Buffer };
  let memdir: string;
  const guests: NativeUffdGuest[] = [];
  const servers: PageServer[] = [];
  let n = 0;

  async function serve(readaheadPages?: number, header = chain.header): Promise<PageServer> {
    const s = await PageServer.start({ socketPath: join(root, `uffd-${n++}.sock`), header, memfileDir: memdir, readaheadPages });
    servers.push(s);
    return s;
  }
  function guest(s: PageServer, regions = REGIONS, pageSize = PAGE): NativeUffdGuest {
    const g = new (loadTestGuest().UffdGuest)({ socketPath: s.socketPath, pageSize, regions });
    guests.push(g);
    return g;
  }

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'wrenn-uffd-'));
    memdir = join(root, 'mem');
    require('node:fs').mkdirSync(memdir);
    chain = buildChain(memdir);
  });
  after(async () => {
    for (const g of guests) g.close();
    for (const s of servers) await s.stop();
    rmSync(root, { recursive: true, force: true });
  });

  for (const [readahead, order] of [
    [1, 'sequential'],
    [32, 'sequential'],
    [64, 'random'],
  ] as const) {
    it(`serves every page of a 4-generation chain with holes to 8 threads at once (read-ahead ${readahead}, ${order} order)`, async () => {
      const s = await serve(readahead);
      const g = guest(s);
      await g.touchAll(8, order);
      for (const r of REGIONS) {
        const got = g.read(r.offset, r.size);
        const want = chain.expected.subarray(r.offset, r.offset + r.size);
        if (!got.equals(want)) {
          for (let p = 0; p < r.size / PAGE; p++) {
            const page = r.offset / PAGE + p;
            assert.ok(got.subarray(p * PAGE, (p + 1) * PAGE).equals(want.subarray(p * PAGE, (p + 1) * PAGE)), `page ${page} (${JSON.stringify(resolvePage(chain.header, page))})`);
          }
        }
      }
      // Counters move just after the guest is woken: wait for the last one.
      await until('every page to be counted', () => s.stats().bytesCopied / PAGE + s.stats().zeroPages >= PAGES);
      const st = s.stats();
      assert.equal(st.state, 'serving');
      assert.equal(st.regions, 3);
      assert.equal(st.errors, 0, st.lastError);
      const holes = chain.header.pageMap.filter((x) => x === 0).length;
      assert.ok(holes > 0);
      // Every page was placed exactly once: copied from a generation file or zero-filled.
      assert.equal(st.bytesCopied / PAGE + st.zeroPages, PAGES);
      assert.equal(st.zeroPages, holes);
      if (readahead === 1) assert.ok(st.faults >= PAGES, `one fault per page without read-ahead, saw ${st.faults}`);
      else if (order === 'sequential') assert.ok(st.faults < PAGES / 2, `read-ahead answers many pages per fault, saw ${st.faults}`);
      g.close();
      await until('the server to see the guest go', () => s.stats().state === 'closed');
      await s.stop();
    });
  }

  it('reads ahead little on a random fault and more while the guest streams on', async () => {
    const s = await serve(64, fullHeader('gen3', SIZE, PAGE));
    const g = guest(s, [{ offset: 0, size: SIZE }]);
    const copied = async (pages: number) => {
      await until(`${pages} pages copied`, () => s.stats().bytesCopied >= pages * PAGE);
      return s.stats().bytesCopied / PAGE;
    };
    g.read(100 * PAGE, 1);
    assert.equal(await copied(8), 8, 'a first fault places a small window');
    g.read(108 * PAGE, 1);
    assert.equal(await copied(24), 24, 'the fault that continues it doubles the window');
    g.read(124 * PAGE, 1);
    g.read(156 * PAGE, 1);
    g.read(220 * PAGE, 1);
    assert.equal(await copied(184), 184, 'up to the configured maximum of 64 pages');
    g.read(900 * PAGE, 1);
    assert.equal(await copied(192), 192, 'a fault elsewhere starts small again');
    assert.equal(s.stats().faults, 6);
    g.close();
    await s.stop();
  });

  it('answers a removed page with zeros on refault and never brings it back by read-ahead', async () => {
    const s = await serve(64);
    const g = guest(s);
    await g.touchAll(2);
    const start = 300 * PAGE;
    assert.ok(!g.read(start, 20 * PAGE).equals(Buffer.alloc(20 * PAGE)));
    g.discard(start, 20 * PAGE); // what a balloon inflation does
    await until('the remove event to be counted', () => s.stats().removeEvents === 1);
    const before = s.stats();
    // Refault only the first removed page: read-ahead must leave the other 19 alone...
    assert.ok(g.read(start, 8).equals(Buffer.alloc(8)));
    // ...so each of them is its own zero-filled refault, not the snapshot's old content.
    assert.ok(g.read(start, 20 * PAGE).equals(Buffer.alloc(20 * PAGE)));
    await until('the refaults to be counted', () => s.stats().zeroPages - before.zeroPages >= 20);
    const after = s.stats();
    assert.equal(after.zeroPages - before.zeroPages, 20);
    assert.equal(after.bytesCopied, before.bytesCopied);
    assert.equal(after.errors, 0, after.lastError);
    // Pages outside the removed range still read as the snapshot.
    assert.ok(g.read(start + 20 * PAGE, PAGE).equals(chain.expected.subarray(start + 20 * PAGE, start + 21 * PAGE)));
    g.close();
    await s.stop();
  });

  it('keeps serving while the guest discards memory under concurrent faults', async () => {
    const s = await serve(64);
    const g = guest(s, [{ offset: 0, size: SIZE }]);
    const discarded = new Set<number>();
    let touching = true;
    const touch = g.touchAll(4, 'random').finally(() => (touching = false));
    // Discard pseudo-random 16-page ranges while the threads fault: remove events race with
    // copies into the same ranges (the kernel answers those copies EAGAIN until the event is read).
    let seed = 7;
    for (let i = 0; i < 200 && touching; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const first = seed % (PAGES - 16);
      g.discard(first * PAGE, 16 * PAGE);
      for (let p = first; p < first + 16; p++) discarded.add(p);
      await new Promise((r) => setImmediate(r));
    }
    await touch;
    const st = s.stats();
    assert.equal(st.errors, 0, st.lastError);
    assert.equal(st.state, 'serving');
    assert.ok(st.removeEvents > 0);
    const got = g.read(0, SIZE);
    const zero = Buffer.alloc(PAGE);
    for (let p = 0; p < PAGES; p++) {
      const page = got.subarray(p * PAGE, (p + 1) * PAGE);
      const want = chain.expected.subarray(p * PAGE, (p + 1) * PAGE);
      if (discarded.has(p)) assert.ok(page.equals(want) || page.equals(zero), `discarded page ${p} is its content or zeros`);
      else assert.ok(page.equals(want), `page ${p} was never discarded`);
    }
    g.close();
    await s.stop();
  });

  it('stops cleanly and leaks no fd and no thread, whether or not a guest ever connected', async () => {
    // Warm-up: the first async call starts libuv's worker pool, which lives as long as the process.
    {
      const s = await serve();
      const g = guest(s);
      await g.touchAll(1);
      g.close();
      await s.stop();
    }
    const fds = fdCount();
    const tasks = taskCount();
    for (let i = 0; i < 5; i++) {
      const s = await serve();
      assert.equal(taskCount(), tasks + 1, 'one serving thread per server');
      if (i % 2 === 0) {
        const g = guest(s);
        await g.touchAll(4);
        // Stop while the guest still holds its side open: the thread must wake and exit.
        await s.stop();
        g.close();
      } else {
        await s.stop();
      }
      assert.equal(existsSync(s.socketPath), false, 'socket removed');
      assert.equal(s.stats().state, 'closed');
      await s.stop(); // idempotent
    }
    assert.equal(fdCount(), fds, 'fds back to where they were');
    assert.equal(taskCount(), tasks, 'threads back to where they were');
  });

  it('refuses to start without every generation file, or with one shorter than the memory', async () => {
    const fds = fdCount();
    const missing = diffHeader(chain.header, 'absent', [1]);
    const sock = join(root, 'refused.sock');
    await assert.rejects(PageServer.start({ socketPath: sock, header: missing, memfileDir: memdir }), /memfile\.absent.*(ENOENT|No such file)/);
    writeFileSync(join(memdir, memfileName('short')), Buffer.alloc(PAGE));
    const short = diffHeader(chain.header, 'short', [0]);
    await assert.rejects(PageServer.start({ socketPath: sock, header: short, memfileDir: memdir }), /shorter than the memory/);
    assert.equal(existsSync(sock), false);
    assert.equal(fdCount(), fds);
    writeFileSync(sock, '');
    await assert.rejects(PageServer.start({ socketPath: sock, header: chain.header, memfileDir: memdir }), /already exists/);
    rmSync(sock);
  });

  it('fails the handshake with a clear reason when no userfaultfd comes, or the JSON is wrong', async () => {
    const cases: Array<[string, RegExp]> = [
      ['[{"base_host_virt_addr":4096,"size":4096,"offset":0,"page_size":4096,"page_size_kib":4096}]', /no userfaultfd/],
      ['{"not":"an array"}', /no userfaultfd|bad handshake/],
    ];
    for (const [body, reason] of cases) {
      const s = await serve();
      const c = connect(s.socketPath);
      await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
      c.write(body);
      await until('the handshake to fail', () => s.stats().state === 'failed');
      const st: PageServerStats = s.stats();
      assert.match(st.lastError, reason);
      assert.equal(st.errors, 1);
      c.destroy();
      await s.stop();
    }
  });

  it('refuses a guest whose page size differs from the snapshot', async () => {
    const s = await serve();
    const g = guest(s, [{ offset: 0, size: SIZE }], 2 * PAGE);
    await until('the handshake to fail', () => s.stats().state === 'failed');
    assert.match(s.stats().lastError, /page size 8192 differs from the snapshot's 4096/);
    g.close();
    await s.stop();
  });
});

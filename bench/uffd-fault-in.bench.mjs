#!/usr/bin/env node
// Page server fault-in throughput on the real kernel: a guest stand-in (anonymous memory
// registered with a userfaultfd, announced in Firecracker's handshake) touches every page of
// BENCH_UFFD_MIB MiB (default 256) while the page server answers from the memory file; compared
// with a plain sequential read() of the same file (page cache warm for both). Also: read-ahead
// off, two touching threads, and a 10-generation chain. Bounded: 3 rounds per case; cleans up.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { DEFAULT_READAHEAD_PAGES, PageServer } = require('../services/host-agent/dist/uffd/index.js');
const { loadTestGuest } = require('../services/host-agent/test-support/dist/test-guest.js');
const { fullHeader, diffHeader, memfileName } = require('../services/host-agent/dist/snapshot/index.js');

const MIB = Number(process.env.BENCH_UFFD_MIB ?? 256);
const PAGE = 4096;
const SIZE = MIB << 20;
const PAGES = SIZE / PAGE;
const ROUNDS = 3;
const dir = mkdtempSync(join(tmpdir(), 'wrenn-bench-uffd-'));

function writeFile(name, pages) {
  const fd = openSync(join(dir, name), 'w');
  ftruncateSync(fd, SIZE);
  const chunk = Buffer.alloc(1 << 20);
  if (pages === undefined) {
    for (let o = 0; o < SIZE; o += chunk.length) writeSync(fd, randomFillSync(chunk), 0, chunk.length, o);
  } else {
    const page = randomFillSync(Buffer.alloc(PAGE));
    for (const p of pages) writeSync(fd, page, 0, PAGE, p * PAGE);
  }
  closeSync(fd);
}

// `into`: 'reused' reads 1 MiB at a time into one buffer (cache-hot, the upper bound of reading
// the file); 'fresh' reads the whole file into newly allocated memory, as an eager restore
// would fill guest memory (every destination page is a first touch, as in a fault-in).
function plainRead(name, into) {
  const fd = openSync(join(dir, name), 'r');
  const buf = into === 'fresh' ? Buffer.allocUnsafeSlow(SIZE) : Buffer.alloc(1 << 20);
  const t0 = performance.now();
  for (let o = 0; o < SIZE; ) o += readSync(fd, buf, into === 'fresh' ? o : 0, Math.min(1 << 20, SIZE - o), o);
  const s = (performance.now() - t0) / 1000;
  closeSync(fd);
  return s;
}

let n = 0;
async function faultIn(header, { readaheadPages, threads }) {
  const server = await PageServer.start({ socketPath: join(dir, `s${n++}.sock`), header, memfileDir: dir, readaheadPages });
  const guest = new (loadTestGuest().UffdGuest)({ socketPath: server.socketPath, pageSize: PAGE, regions: [{ offset: 0, size: SIZE }] });
  try {
    const seconds = await guest.touchAll(threads);
    const st = server.stats();
    if (st.errors) throw new Error(st.lastError);
    return { seconds, faults: st.faults };
  } finally {
    guest.close();
    await server.stop();
  }
}

const best = (xs) => Math.min(...xs);
const mibs = (s) => MIB / s;
try {
  writeFile(memfileName('full'));
  plainRead(memfileName('full'), 'reused'); // warm the page cache
  const hot = best(Array.from({ length: ROUNDS }, () => plainRead(memfileName('full'), 'reused')));
  const plain = best(Array.from({ length: ROUNDS }, () => plainRead(memfileName('full'), 'fresh')));
  console.log(`plain read() of the ${MIB} MiB memory file, page cache warm: into fresh memory ${mibs(plain).toFixed(0)} MiB/s; into one reused 1 MiB buffer ${mibs(hot).toFixed(0)} MiB/s`);

  // The floor of any way to fill fresh guest memory: first touch of new anonymous memory.
  const touch = best(
    Array.from({ length: ROUNDS }, () => {
      const b = Buffer.allocUnsafeSlow(SIZE);
      const t0 = performance.now();
      for (let o = 0; o < SIZE; o += PAGE) b[o] = 1;
      return (performance.now() - t0) / 1000;
    }),
  );
  console.log(`first touch of ${MIB} MiB of fresh anonymous memory (zero-fill faults, no copy): ${mibs(touch).toFixed(0)} MiB/s`);

  const full = fullHeader('full', SIZE, PAGE);
  const cases = [
    ['page server, no read-ahead, 1 thread', full, { readaheadPages: 1, threads: 1 }],
    ['page server, read-ahead 32, 1 thread', full, { readaheadPages: 32, threads: 1 }],
    [`page server, read-ahead ${DEFAULT_READAHEAD_PAGES} (default), 1 thread`, full, { readaheadPages: DEFAULT_READAHEAD_PAGES, threads: 1 }],
    ['page server, read-ahead 256, 1 thread', full, { readaheadPages: 256, threads: 1 }],
    ['page server, read-ahead 1024, 1 thread', full, { readaheadPages: 1024, threads: 1 }],
    [`page server, read-ahead ${DEFAULT_READAHEAD_PAGES}, 2 threads`, full, { readaheadPages: DEFAULT_READAHEAD_PAGES, threads: 2 }],
  ];
  // A 10-generation chain: each Diff rewrites a random 10% of the pages.
  let chain = full;
  for (let g = 1; g < 10; g++) {
    const dirty = [];
    for (let p = 0; p < PAGES; p++) if (Math.random() < 0.1) dirty.push(p);
    writeFile(memfileName(`gen${g}`), dirty);
    chain = diffHeader(chain, `gen${g}`, dirty);
  }
  cases.push([`page server, 10-generation chain, read-ahead ${DEFAULT_READAHEAD_PAGES}, 1 thread`, chain, { readaheadPages: DEFAULT_READAHEAD_PAGES, threads: 1 }]);

  for (const [name, header, o] of cases) {
    const runs = [];
    for (let i = 0; i < ROUNDS; i++) runs.push(await faultIn(header, o));
    const s = best(runs.map((r) => r.seconds));
    const faults = runs[0].faults;
    console.log(`${name}: ${mibs(s).toFixed(0)} MiB/s (${faults} faults) — ${(plain / s).toFixed(2)}× read into fresh memory, ${(hot / s).toFixed(2)}× cache-hot read`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

#!/usr/bin/env node
// Cost of the snapshot bookkeeping on a pause of a large guest (BENCH_HEADER_GIB GiB, default 8,
// 4 KiB pages): finding a Diff's dirty pages in its sparse memory file (SEEK_DATA/SEEK_HOLE),
// building the header of a 10-generation chain, and encoding / decoding it. Bounded: one sparse
// file with 20,000 dirty extents; cleans up.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { dataPages, decodeHeader, diffHeader, encodeHeader, fullHeader } = require('../services/host-agent/dist/snapshot/index.js');

const GIB = Number(process.env.BENCH_HEADER_GIB ?? 8);
const PAGE = 4096;
const SIZE = GIB * 2 ** 30;
const PAGES = SIZE / PAGE;
const EXTENTS = 20_000;
const dir = mkdtempSync(join(tmpdir(), 'wrenn-bench-header-'));
const time = (fn) => {
  const t0 = performance.now();
  const out = fn();
  return [out, performance.now() - t0];
};

try {
  // A Diff as Firecracker writes it: full size, sparse, dirty pages in small clusters.
  const file = join(dir, 'memfile.diff');
  const fd = openSync(file, 'w');
  ftruncateSync(fd, SIZE);
  const page = Buffer.alloc(PAGE, 7);
  for (let i = 0; i < EXTENTS; i++) {
    const first = Math.floor(Math.random() * (PAGES - 8));
    const len = 1 + Math.floor(Math.random() * 8);
    for (let p = first; p < first + len; p++) writeSync(fd, page, 0, PAGE, p * PAGE);
  }
  closeSync(fd);
  const [dirty, scanMs] = time(() => dataPages(file, PAGE, SIZE));
  console.log(`dirty pages of a ${GIB} GiB sparse Diff (${EXTENTS} clusters, ${(statSync(file).blocks * 512) >> 20} MiB on disk): ${dirty.length} pages in ${scanMs.toFixed(1)} ms`);

  const [full, fullMs] = time(() => fullHeader('g0', SIZE, PAGE));
  let chain = full;
  let diffMs = 0;
  for (let g = 1; g < 10; g++) {
    const [next, ms] = time(() => diffHeader(chain, `g${g}`, dirty.map((p) => (p + g * 977) % PAGES)));
    chain = next;
    diffMs += ms;
  }
  const [bytes, encMs] = time(() => encodeHeader(chain));
  const [, decMs] = time(() => decodeHeader(bytes));
  console.log(`header of ${PAGES} pages: Full ${fullMs.toFixed(1)} ms, each Diff ~${(diffMs / 9).toFixed(1)} ms, 10 generations encode ${encMs.toFixed(1)} ms → ${(bytes.length / 1024).toFixed(0)} KiB, decode ${decMs.toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SnapshotHeader, collapseChain, dataPages, diffHeader, fullHeader, headerForSnapshot, memfileName, nextSnapshotType, resolvePage } from './index';

const PAGE = 4096;

/** Page `p` as generation `g` wrote it: recognisable bytes, never all zero. */
function pageContent(g: number, p: number): Buffer {
  const b = Buffer.alloc(PAGE, (g * 31 + p * 7 + 1) % 255 || 1);
  b.writeUInt32LE(p, 0);
  b.writeUInt32LE(g, 4);
  return b;
}

/** A memory file as Firecracker writes it: full size, only the given pages written (sparse). */
function writeMemfile(dir: string, buildId: string, pages: number, g: number, written: number[]): void {
  const fd = openSync(join(dir, memfileName(buildId)), 'wx');
  try {
    ftruncateSync(fd, pages * PAGE);
    for (const p of written) writeSync(fd, pageContent(g, p), 0, PAGE, p * PAGE);
  } finally {
    closeSync(fd);
  }
}

describe('sparse memory files and collapsing a chain', () => {
  let root: string;
  before(() => (root = mkdtempSync(join(tmpdir(), 'wrenn-collapse-'))));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('finds exactly the written pages of a sparse file as its dirty set', () => {
    const dir = mkdtempSync(join(root, 'extents-'));
    writeMemfile(dir, 'd', 64, 1, [0, 1, 2, 9, 33, 63]);
    assert.deepEqual(dataPages(join(dir, memfileName('d')), PAGE), [0, 1, 2, 9, 33, 63]);
    writeMemfile(dir, 'empty', 16, 1, []);
    assert.deepEqual(dataPages(join(dir, memfileName('empty')), PAGE), []);
    // Pages of a coarser size count when any of their bytes hold data.
    assert.deepEqual(dataPages(join(dir, memfileName('d')), 4 * PAGE), [0, 2, 8, 15]);
  });

  it('collapses a random chain into a Full equal to replaying every diff in order', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 48 }).chain((pages) =>
          fc.record({
            pages: fc.constant(pages),
            base: fc.uniqueArray(fc.integer({ min: 0, max: pages - 1 }), { maxLength: pages }),
            diffs: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: pages - 1 }), { maxLength: pages }), { maxLength: 9 }),
          }),
        ),
        async ({ pages, base, diffs }) => {
          const dir = mkdtempSync(join(root, `chain-${run++}-`));
          try {
            // Pause 1 writes a Full whose unwritten pages are holes; each later pause a Diff.
            writeMemfile(dir, 'g0', pages, 0, base);
            let h: SnapshotHeader = fullHeader('g0', pages * PAGE, PAGE, dataPages(join(dir, memfileName('g0')), PAGE));
            diffs.forEach((dirty, i) => {
              writeMemfile(dir, `g${i + 1}`, pages, i + 1, dirty);
              // The dirty set comes from the sparse file itself, as it will for Firecracker's Diffs.
              h = diffHeader(h, `g${i + 1}`, dataPages(join(dir, memfileName(`g${i + 1}`)), PAGE));
            });

            const expected = Buffer.alloc(pages * PAGE);
            [base, ...diffs].forEach((written, g) => written.forEach((p) => pageContent(g, p).copy(expected, p * PAGE)));

            const full = await collapseChain(h, dir, 'collapsed');
            assert.deepEqual(full.generations, ['collapsed']);
            assert.ok(readFileSync(join(dir, memfileName('collapsed'))).equals(expected));
            for (let p = 0; p < pages; p++) {
              const written = resolvePage(h, p) !== null;
              assert.equal(resolvePage(full, p) !== null, written, `page ${p}: a hole stays a hole`);
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('plans Full, then Diffs from the sparse files, then a Full again after ten generations', () => {
    const dir = mkdtempSync(join(root, 'plan-'));
    let parent: SnapshotHeader | null = null;
    const types: string[] = [];
    for (let i = 0; i < 12; i++) {
      const type = nextSnapshotType(parent);
      types.push(type);
      // A Full writes every page the guest has (here: all but page 7), a Diff only page i % 8.
      const written = type === 'Full' ? [0, 1, 2, 3, 4, 5, 6] : [i % 8];
      writeMemfile(dir, `b${i}`, 8, i, written);
      const h: SnapshotHeader = headerForSnapshot({ parent, type, buildId: `b${i}`, memfilePath: join(dir, memfileName(`b${i}`)), sizeBytes: 8 * PAGE, pageSize: PAGE });
      for (const p of written) assert.deepEqual(resolvePage(h, p), { buildId: `b${i}`, offset: p * PAGE });
      parent = h;
    }
    assert.deepEqual(types, ['Full', ...Array(9).fill('Diff'), 'Full', 'Diff']);
    assert.equal(resolvePage(parent!, 7), null, 'never written: a hole');
  });

  it('leaves no file behind when a generation file is missing', async () => {
    const dir = mkdtempSync(join(root, 'missing-'));
    writeMemfile(dir, 'g0', 4, 0, [0, 1, 2, 3]);
    const h = diffHeader(fullHeader('g0', 4 * PAGE, PAGE), 'g1', [1]);
    await assert.rejects(collapseChain(h, dir, 'out'), /ENOENT/);
    assert.throws(() => readFileSync(join(dir, memfileName('out'))), /ENOENT/);
  });
});

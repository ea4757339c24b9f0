import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  HEADER_VERSION,
  MAX_GENERATIONS,
  SnapshotError,
  SnapshotHeader,
  decodeHeader,
  describeHeader,
  diffHeader,
  encodeHeader,
  fullHeader,
  memfileName,
  needsFull,
  resolvePage,
} from './index';

const PAGE = 4096;

/** A random chain: a Full (possibly with holes) then up to 9 Diffs, each with its dirty pages. */
const chainArb = fc.integer({ min: 1, max: 300 }).chain((pages) =>
  fc.record({
    pages: fc.constant(pages),
    present: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: pages - 1 }), { maxLength: pages }), { nil: undefined }),
    diffs: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: pages - 1 }), { maxLength: pages }), { maxLength: MAX_GENERATIONS - 1 }),
  }),
);

function build(c: { pages: number; present?: number[]; diffs: number[][] }): SnapshotHeader {
  let h = fullHeader('g0', c.pages * PAGE, PAGE, c.present);
  c.diffs.forEach((dirty, i) => (h = diffHeader(h, `g${i + 1}`, dirty)));
  return h;
}

/**
 * The model: memory as a list of writes. Replaying every generation in order over a blank
 * memory, page p holds whatever the last generation that wrote it wrote.
 */
function replay(c: { pages: number; present?: number[]; diffs: number[][] }): Array<string | null> {
  const mem = new Array<string | null>(c.pages).fill(null);
  for (const p of c.present ?? Array.from({ length: c.pages }, (_, i) => i)) mem[p] = 'g0';
  c.diffs.forEach((dirty, i) => dirty.forEach((p) => (mem[p] = `g${i + 1}`)));
  return mem;
}

describe('snapshot header', () => {
  it('resolves every page of a random chain to the generation that wrote it last, holes to null', () => {
    fc.assert(
      fc.property(chainArb, (c) => {
        const h = build(c);
        const model = replay(c);
        for (let p = 0; p < c.pages; p++) {
          const at = resolvePage(h, p);
          assert.deepEqual(at, model[p] === null ? null : { buildId: model[p], offset: p * PAGE });
        }
      }),
    );
  });

  it('round-trips through the binary encoding', () => {
    fc.assert(
      fc.property(chainArb, (c) => {
        const h = build(c);
        const back = decodeHeader(encodeHeader(h));
        assert.deepEqual({ ...back, pageMap: [...back.pageMap] }, { ...h, pageMap: [...h.pageMap] });
      }),
    );
  });

  it('refuses any truncation of an encoded header with a clear error', () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), (c, cut) => {
        const b = encodeHeader(build(c));
        const short = b.subarray(0, cut % b.length);
        assert.throws(() => decodeHeader(short), (e: SnapshotError) => e instanceof SnapshotError && /header_(truncated|corrupt)/.test(e.code) && /snapshot header/.test(e.message));
      }),
    );
  });

  it('refuses any single flipped bit (checksum, magic or version)', () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (c, at, bit) => {
        const b = Buffer.from(encodeHeader(build(c)));
        b[at % b.length] ^= 1 << bit;
        assert.throws(() => decodeHeader(b), SnapshotError);
      }),
    );
  });

  it('says a header of another version is unsupported rather than corrupt', () => {
    const b = Buffer.from(encodeHeader(fullHeader('base', 16 * PAGE, PAGE)));
    b.writeUInt16LE(HEADER_VERSION + 1, 8);
    assert.throws(() => decodeHeader(b), (e: SnapshotError) => e.code === 'header_version_unsupported' && /version 2 is not supported/.test(e.message));
  });

  it('rejects a foreign file and trailing bytes', () => {
    assert.throws(() => decodeHeader(Buffer.from('{"not":"a header"}')), (e: SnapshotError) => e.code === 'header_corrupt' && /bad magic/.test(e.message));
    const b = encodeHeader(fullHeader('base', 4 * PAGE, PAGE));
    assert.throws(() => decodeHeader(Buffer.concat([b, Buffer.from([0])])), (e: SnapshotError) => e.code === 'header_corrupt');
  });

  it('allows ten generations, then asks for a Full', () => {
    let h = fullHeader('g0', 8 * PAGE, PAGE);
    for (let i = 1; i < MAX_GENERATIONS; i++) {
      assert.equal(needsFull(h), false);
      h = diffHeader(h, `g${i}`, [i % 8]);
    }
    assert.equal(h.generations.length, MAX_GENERATIONS);
    assert.equal(needsFull(h), true);
    assert.throws(() => diffHeader(h, 'g10', [0]), (e: SnapshotError) => e.code === 'generation_limit');
    // The parent is untouched by a refused diff.
    assert.equal(h.generations.length, MAX_GENERATIONS);
  });

  it('refuses pages outside the memory, reused build ids and unsafe build ids', () => {
    const h = fullHeader('base', 4 * PAGE, PAGE);
    assert.throws(() => diffHeader(h, 'd1', [4]), (e: SnapshotError) => e.code === 'invalid_argument' && /outside the memory/.test(e.message));
    assert.throws(() => diffHeader(h, 'base', [0]), (e: SnapshotError) => e.code === 'invalid_argument');
    assert.throws(() => fullHeader('../etc', 4 * PAGE, PAGE), (e: SnapshotError) => e.code === 'invalid_argument');
    assert.throws(() => fullHeader('x', 4 * PAGE + 1, PAGE), (e: SnapshotError) => e.code === 'invalid_argument');
    assert.throws(() => fullHeader('x', 4 * PAGE, 3000), (e: SnapshotError) => e.code === 'invalid_argument');
    assert.equal(memfileName('01JABC'), 'memfile.01JABC');
  });

  it('describes where the pages live', () => {
    const h = diffHeader(fullHeader('base', 8 * PAGE, PAGE, [0, 1, 2, 3]), 'd1', [2, 6]);
    const d = describeHeader(h);
    assert.equal(d.pages, 8);
    assert.equal(d.holes, 3);
    assert.deepEqual(
      d.generations.map((g) => [g.buildId, g.pages]),
      [
        ['base', 3],
        ['d1', 2],
      ],
    );
    // base base d1 base hole hole d1 hole
    assert.equal(d.runs, 6);
  });
});

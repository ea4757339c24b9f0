import { crc32 } from 'node:zlib';
import { SnapshotError, SnapshotErrorCode } from './snapshot-error';
import { HEADER_VERSION, HOLE, MAX_GENERATIONS, SnapshotHeader, assertBuildId, assertGeometry } from './snapshot-header';

// Layout (little-endian) is documented in FORMAT.md; keep the two in step.
export const HEADER_MAGIC = Buffer.from('WRNSNAPH', 'latin1');
const FIXED = 32; // magic 8, version 2, generations 2, page size 4, size 8, runs 4, reserved 4
const RUN = 17; // first page u64, page count u64, generation u8
const CRC = 4;

// u64 fields through two u32 halves: BigInt per field makes a large header several times slower.
function writeU64(b: Buffer, v: number, at: number): void {
  b.writeUInt32LE(v % 2 ** 32, at);
  b.writeUInt32LE(Math.floor(v / 2 ** 32), at + 4);
}

/** A u64 as a number; Infinity when it does not fit a safe integer (then refused as out of range). */
function readU64(b: Buffer, at: number): number {
  const hi = b.readUInt32LE(at + 4);
  return hi >= 2 ** 21 ? Infinity : hi * 2 ** 32 + b.readUInt32LE(at);
}

/** Serialises a header: a page map compressed into runs of pages held by the same generation. */
export function encodeHeader(h: SnapshotHeader): Buffer {
  assertGeometry(h.sizeBytes, h.pageSize);
  if (h.pageMap.length !== h.sizeBytes / h.pageSize) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `page map has ${h.pageMap.length} entries for ${h.sizeBytes / h.pageSize} pages`);
  }
  if (h.generations.length === 0 || h.generations.length > MAX_GENERATIONS) {
    throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `a header holds 1–${MAX_GENERATIONS} generations, not ${h.generations.length}`);
  }
  h.generations.forEach(assertBuildId);

  // Pass 1 validates and counts the runs, pass 2 writes them: no per-run allocation.
  const map = h.pageMap;
  let runCount = 0;
  for (let p = 0; p < map.length; ) {
    const g = map[p];
    let end = p + 1;
    while (end < map.length && map[end] === g) end++;
    if (g !== HOLE) {
      if (g > h.generations.length) throw new SnapshotError(SnapshotErrorCode.InvalidArgument, `page ${p} names generation ${g} of ${h.generations.length}`);
      runCount++;
    }
    p = end;
  }

  const ids = h.generations.map((id) => Buffer.from(id, 'latin1'));
  const size = FIXED + ids.reduce((n, b) => n + 1 + b.length, 0) + runCount * RUN + CRC;
  const out = Buffer.alloc(size);
  HEADER_MAGIC.copy(out, 0);
  out.writeUInt16LE(HEADER_VERSION, 8);
  out.writeUInt16LE(ids.length, 10);
  out.writeUInt32LE(h.pageSize, 12);
  out.writeBigUInt64LE(BigInt(h.sizeBytes), 16);
  out.writeUInt32LE(runCount, 24);
  let o = FIXED;
  for (const id of ids) {
    out.writeUInt8(id.length, o);
    id.copy(out, o + 1);
    o += 1 + id.length;
  }
  for (let p = 0; p < map.length; ) {
    const g = map[p];
    let end = p + 1;
    while (end < map.length && map[end] === g) end++;
    if (g !== HOLE) {
      writeU64(out, p, o);
      writeU64(out, end - p, o + 8);
      out[o + 16] = g;
      o += RUN;
    }
    p = end;
  }
  out.writeUInt32LE(crc32(out.subarray(0, o)), o);
  return out;
}

/**
 * Parses and validates a header. Refuses, with a {@link SnapshotError} saying which, a foreign
 * file, another format version, a truncated or bit-flipped one, and any layout that could send a
 * page to the wrong place (overlapping or out-of-range runs, unknown generations).
 */
export function decodeHeader(b: Buffer): SnapshotHeader {
  const truncated = (what: string) => new SnapshotError(SnapshotErrorCode.Truncated, `snapshot header truncated: ${b.length} bytes end inside ${what}`);
  const corrupt = (what: string) => new SnapshotError(SnapshotErrorCode.Corrupt, `snapshot header corrupt: ${what}`);
  if (b.length < HEADER_MAGIC.length || !b.subarray(0, HEADER_MAGIC.length).equals(HEADER_MAGIC)) {
    if (b.length < HEADER_MAGIC.length && HEADER_MAGIC.subarray(0, b.length).equals(b)) throw truncated('the magic');
    throw corrupt('not a Wrenn snapshot header (bad magic)');
  }
  if (b.length < 10) throw truncated('the version');
  const version = b.readUInt16LE(8);
  if (version !== HEADER_VERSION) {
    throw new SnapshotError(SnapshotErrorCode.VersionUnsupported, `snapshot header version ${version} is not supported (this build reads version ${HEADER_VERSION})`);
  }
  if (b.length < FIXED) throw truncated('the fixed fields');
  const generationCount = b.readUInt16LE(10);
  const pageSize = b.readUInt32LE(12);
  const sizeBig = b.readBigUInt64LE(16);
  const runCount = b.readUInt32LE(24);
  let o = FIXED;
  const generations: string[] = [];
  for (let i = 0; i < generationCount; i++) {
    if (o + 1 > b.length) throw truncated('the generation list');
    const len = b.readUInt8(o);
    if (o + 1 + len > b.length) throw truncated('the generation list');
    generations.push(b.toString('latin1', o + 1, o + 1 + len));
    o += 1 + len;
  }
  const runsAt = o;
  const end = runsAt + runCount * RUN;
  if (end + CRC > b.length) throw truncated('the page runs');
  if (end + CRC < b.length) throw corrupt(`${b.length - end - CRC} trailing bytes`);
  if (crc32(b.subarray(0, end)) !== b.readUInt32LE(end)) throw corrupt('checksum mismatch');

  // The checksum only proves the bytes are what a writer wrote; a buggy writer is still refused.
  if (sizeBig > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`memory size ${sizeBig} too large`);
  const sizeBytes = Number(sizeBig);
  try {
    assertGeometry(sizeBytes, pageSize);
    generations.forEach(assertBuildId);
  } catch (error) {
    throw corrupt((error as Error).message);
  }
  if (generationCount === 0 || generationCount > MAX_GENERATIONS) throw corrupt(`${generationCount} generations (1–${MAX_GENERATIONS} allowed)`);
  if (new Set(generations).size !== generations.length) throw corrupt('a build id appears twice');
  const pages = sizeBytes / pageSize;
  const pageMap = new Uint8Array(pages);
  let next = 0;
  for (let i = 0, r = runsAt; i < runCount; i++, r += RUN) {
    const first = readU64(b, r);
    const count = readU64(b, r + 8);
    const g = b[r + 16];
    if (first < next) throw corrupt(`run ${i} starts at page ${first}, before the end of the previous run`);
    if (count === 0 || first + count > pages) throw corrupt(`run ${i} (pages ${first}+${count}) is empty or outside ${pages} pages`);
    if (g === HOLE || g > generationCount) throw corrupt(`run ${i} names generation ${g} of ${generationCount}`);
    pageMap.fill(g, first, first + count);
    next = first + count;
  }
  return { version, pageSize, sizeBytes, generations, pageMap };
}

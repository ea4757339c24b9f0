import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffHeader, encodeHeader, fullHeader } from '@wrenn/host-agent/dist/snapshot';

const MAIN = join(__dirname, '..', 'main.js');
const wrenn = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

describe('wrenn snapshot inspect', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wrenn-inspect-'));
    file = join(dir, 'header.d2');
    // 16 pages: base holds 0–9 (10–15 holes); d1 rewrites 2–3; d2 rewrites 3 and 12.
    const h = diffHeader(diffHeader(fullHeader('base', 16 * 4096, 4096, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'd1', [2, 3]), 'd2', [3, 12]);
    writeFileSync(file, encodeHeader(h));
    // Beside it: base complete, d1 cut short, d2 missing.
    writeFileSync(join(dir, 'memfile.base'), Buffer.alloc(16 * 4096));
    writeFileSync(join(dir, 'memfile.d1'), Buffer.alloc(4096));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints generations, their page counts and the holes', () => {
    const r = wrenn('snapshot', 'inspect', file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /snapshot header v1/);
    assert.match(r.stdout, /\(16 pages of 4 KiB\)/);
    assert.match(r.stdout, /holes\s+5 pages/);
    assert.match(r.stdout, /memfile\.base\s+8 pages .* ok$/m);
    assert.match(r.stdout, /memfile\.d1\s+1 pages .* short$/m);
    assert.match(r.stdout, /memfile\.d2\s+2 pages .* missing$/m);
  });

  it('prints JSON with every run of pages', () => {
    const r = wrenn('snapshot', 'inspect', file, '--json', '--runs');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.pages, 16);
    assert.deepEqual(
      out.generations.map((g: { buildId: string; pages: number; fileStatus: string }) => [g.buildId, g.pages, g.fileStatus]),
      [
        ['base', 8, 'ok'],
        ['d1', 1, 'short'],
        ['d2', 2, 'missing'],
      ],
    );
    assert.deepEqual(out.pageRuns, [
      { first: 0, count: 2, generation: 0 },
      { first: 2, count: 1, generation: 1 },
      { first: 3, count: 1, generation: 2 },
      { first: 4, count: 6, generation: 0 },
      { first: 10, count: 2, generation: null },
      { first: 12, count: 1, generation: 2 },
      { first: 13, count: 3, generation: null },
    ]);
  });

  it('says why a file is not a header, and exits non-zero', () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'hello');
    const r = wrenn('snapshot', 'inspect', bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /wrenn: snapshot header (corrupt|truncated)/);
  });
});

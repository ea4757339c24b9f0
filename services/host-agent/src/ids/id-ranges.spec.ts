import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdRanges } from './id-ranges';
import { DEFAULT_ID_BASE, IDS_PER_SANDBOX } from '../runtime/namespace/sandbox-hardening';

describe(IdRanges.name, () => {
  it('never hands the same range to two sandboxes, even of two agents sharing the machine', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-idr-'));
    try {
      const a = new IdRanges('aaa', dir);
      const b = new IdRanges('bbb', dir);
      const taken = await Promise.all([a.acquire('sb_1', 0), b.acquire('sb_2', 0), a.acquire('sb_3', 0), b.acquire('sb_4', 1)]);
      assert.equal(new Set(taken.map((r) => r.number)).size, 4, 'four distinct ranges');
      for (const r of taken) assert.equal(r.hostRoot, DEFAULT_ID_BASE + r.number * IDS_PER_SANDBOX);
      await a.release(taken[0].number);
      assert.equal((await b.acquire('sb_5', taken[0].number)).number, taken[0].number, 'a released range is free again');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("frees only its own dead sandboxes' ranges after a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-idr-'));
    try {
      const a = new IdRanges('aaa', dir);
      const b = new IdRanges('bbb', dir);
      const live = await a.acquire('sb_live', 0);
      const dead = await a.acquire('sb_dead', 0);
      const other = await b.acquire('sb_other', 0);
      await new IdRanges('aaa', dir).releaseAllBut([live.number]);
      assert.deepEqual((await readdir(dir)).map(Number).sort(), [live.number, other.number].sort());
      assert.ok(!(await readdir(dir)).includes(String(dead.number)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

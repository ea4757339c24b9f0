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

  it('steps over ranges another agent holds once, not on every acquire', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-idr-'));
    try {
      const other = new IdRanges('bbb', dir);
      for (let i = 0; i < 300; i++) await other.acquire(`sb_o${i}`, i);
      const ours = new IdRanges('aaa', dir);
      // Count the exclusive creates: a search from each hint would try ~300 per acquire here.
      let creates = 0;
      const take = (ours as unknown as { take: (owner: string, n: number) => Promise<boolean> }).take.bind(ours);
      (ours as unknown as { take: typeof take }).take = (owner, n) => ((creates += 1), take(owner, n));
      const got = [];
      for (let i = 0; i < 100; i++) got.push((await ours.acquire(`sb_${i}`, i)).number);
      assert.equal(new Set(got).size, 100);
      assert.ok(got.every((n) => n >= 300), 'none of the other agent\'s ranges');
      assert.ok(creates <= 100 * 2 + 300, `${creates} exclusive creates for 100 acquires`);
      // A free hint is taken at once, in one create.
      creates = 0;
      await other.release(5);
      assert.equal((await ours.acquire('sb_hint', 5)).number, 5);
      assert.equal(creates, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostCommandRunner } from './command-runner';
import { LoopRegistry } from './loop-registry';

const attached = (file: string) =>
  execFileSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']).toString().split('\n').filter((l) => l.trim().endsWith(` ${file}`)).map((l) => l.trim().split(/\s+/)[0]);

describe(`${LoopRegistry.name} (root, real loop devices)`, () => {
  let dir: string;
  let image: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-loop-'));
    image = join(dir, 'base.img');
    await writeFile(image, '');
    await truncate(image, 8 * 1024 * 1024);
  });
  after(async () => {
    for (const file of [image, join(dir, 'a.cow')]) for (const dev of attached(file)) execFileSync('losetup', ['--detach', dev]);
    await rm(dir, { recursive: true, force: true });
  });

  it('attaches an image once, read-only, for any number of users, and detaches with the last', async () => {
    const loops = new LoopRegistry(hostCommandRunner);
    const devices = await Promise.all([loops.acquire(image), loops.acquire(image), loops.acquire(image)]);
    assert.equal(new Set(devices).size, 1, 'concurrent users share one device');
    assert.deepEqual(attached(image), [devices[0]]);
    const ro = execFileSync('blockdev', ['--getro', devices[0]]).toString().trim();
    assert.equal(ro, '1', 'the origin is read-only');
    await loops.release(image);
    await loops.release(image);
    assert.deepEqual(attached(image), [devices[0]], 'still attached while one user is left');
    await loops.release(image);
    assert.deepEqual(attached(image), [], 'the last user detaches it');
  });

  it('re-takes a device left attached by a previous agent, and detaches it when nobody uses it', async () => {
    const first = new LoopRegistry(hostCommandRunner);
    const device = await first.acquire(image);
    const next = new LoopRegistry(hostCommandRunner);
    const kept = await next.recover(new Map([[image, 1]]));
    assert.deepEqual(kept, { kept: [device], detached: [] });
    assert.equal(await next.acquire(image), device, 'no second device for the same image');
    await next.release(image);
    await next.release(image);
    assert.deepEqual(attached(image), []);
    await new LoopRegistry(hostCommandRunner).acquire(image); // left attached, as by a crashed agent
    assert.equal(attached(image).length, 1);
    const unused = await new LoopRegistry(hostCommandRunner).recover(new Map([[image, 0]]));
    assert.equal(unused.detached.length, 1);
    assert.deepEqual(attached(image), []);
  });

  it('accounts a sparse CoW file by the blocks written through its loop device, not its length', async () => {
    const cow = join(dir, 'a.cow');
    const f = await open(cow, 'wx');
    await f.truncate(256 * 1024 * 1024);
    await f.close();
    const before = await stat(cow);
    assert.equal(before.size, 256 * 1024 * 1024);
    assert.ok(before.blocks * 512 <= 4096, `a new CoW file holds no data (${before.blocks * 512} bytes)`);
    const device = (await hostCommandRunner.run('losetup', ['--find', '--show', cow])).trim();
    try {
      execFileSync('dd', ['if=/dev/urandom', `of=${device}`, 'bs=1M', 'count=3', 'seek=100', 'oflag=direct', 'status=none']);
    } finally {
      await hostCommandRunner.run('losetup', ['--detach', device]);
    }
    const afterWrite = await stat(cow);
    const used = afterWrite.blocks * 512;
    assert.ok(used >= 3 * 1024 * 1024 && used < 4 * 1024 * 1024, `3 MiB written → ${used} bytes allocated`);
    assert.equal(afterWrite.size, 256 * 1024 * 1024);
  });
});

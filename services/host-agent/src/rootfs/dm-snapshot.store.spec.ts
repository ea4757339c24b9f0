import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandRunner, HostCommandError } from './command-runner';
import { DmSnapshotStore } from './dm-snapshot.store';

/** Records every invocation; answers from a script of responders (first match wins). */
class RecordingRunner implements CommandRunner {
  readonly calls: string[] = [];
  private nextLoop = 10;
  failures: Array<{ match: RegExp; stderr: string; times: number }> = [];

  async run(file: string, args: string[]): Promise<string> {
    const line = [file, ...args].join(' ');
    this.calls.push(line);
    const failure = this.failures.find((f) => f.match.test(line) && f.times > 0);
    if (failure) {
      failure.times--;
      throw new HostCommandError(line, failure.stderr, 1);
    }
    if (file === 'losetup' && args[0] === '--find') return `/dev/loop${this.nextLoop++}\n`;
    return '';
  }
}

const BUSY = 'device-mapper: remove ioctl on wrenn-k-sb_1 failed: Device or resource busy\nCommand failed.\n';

describe(DmSnapshotStore.name, () => {
  let dir: string;
  let image: string;
  let runner: RecordingRunner;
  let sleeps: number[];
  let store: DmSnapshotStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-dm-'));
    image = join(dir, 'base.ext4');
    await writeFile(image, '');
    await truncate(image, 64 * 1024 * 1024); // 131072 sectors
    runner = new RecordingRunner();
    sleeps = [];
    store = new DmSnapshotStore({ namePrefix: 'wrenn-k-', runner, sleep: async (ms) => void sleeps.push(ms) });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates a snapshot device over the shared read-only origin and a sparse CoW file', async () => {
    const cow = join(dir, 'a.cow');
    const rootfs = await store.create('sb_a', image, cow, 1024 ** 3);
    assert.deepEqual(runner.calls, [
      `losetup --find --show --read-only ${image}`,
      `losetup --find --show ${cow}`,
      'dmsetup create wrenn-k-sb_a --table 0 131072 snapshot /dev/loop10 /dev/loop11 P 8',
    ]);
    assert.deepEqual(rootfs, { name: 'wrenn-k-sb_a', device: '/dev/mapper/wrenn-k-sb_a', imagePath: image, origin: '/dev/loop10', cowPath: cow, cowLoop: '/dev/loop11' });
    const s = await stat(cow);
    assert.equal(s.size, 1024 ** 3, 'the CoW file has its full length');
    assert.ok(s.blocks * 512 < 1024 * 1024, 'but holds (almost) no blocks: it is sparse');
  });

  it('shares one origin loop device between the sandboxes of an image', async () => {
    const a = await store.create('sb_a', image, join(dir, 'a.cow'), 1 << 20);
    const b = await store.create('sb_b', image, join(dir, 'b.cow'), 1 << 20);
    assert.equal(a.origin, b.origin);
    assert.equal(runner.calls.filter((c) => c.includes('--read-only')).length, 1);
    assert.equal(store.loops.refs(image), 2);
    await store.remove(a, { removeCow: true });
    assert.ok(!runner.calls.includes(`losetup --detach ${a.origin}`), 'the origin stays while b uses it');
    await store.remove(b, { removeCow: true });
    assert.equal(runner.calls.at(-1), `losetup --detach ${a.origin}`, 'the last user detaches it');
    assert.equal(store.loops.refs(image), 0);
  });

  it('removes device, CoW loop and origin in that order, and the CoW file only on destroy', async () => {
    const cow = join(dir, 'a.cow');
    const rootfs = await store.create('sb_a', image, cow, 1 << 20);
    runner.calls.length = 0;
    await store.remove(rootfs, { removeCow: false });
    assert.deepEqual(runner.calls, ['dmsetup remove wrenn-k-sb_a', 'losetup --detach /dev/loop11', 'losetup --detach /dev/loop10']);
    assert.ok(existsSync(cow), 'pause keeps the CoW file');
    const again = await store.restore('sb_a', image, cow);
    assert.equal(runner.calls.at(-1), `dmsetup create wrenn-k-sb_a --table 0 131072 snapshot ${again.origin} ${again.cowLoop} P 8`);
    await store.remove(again, { removeCow: true });
    assert.ok(!existsSync(cow), 'destroy removes it');
  });

  it('refuses to restore without a CoW file, touching nothing', async () => {
    await assert.rejects(store.restore('sb_a', image, join(dir, 'missing.cow')), /ENOENT/);
    assert.deepEqual(runner.calls, []);
  });

  it('never overwrites an existing CoW file', async () => {
    const cow = join(dir, 'a.cow');
    await writeFile(cow, 'paused sandbox data');
    await assert.rejects(store.create('sb_a', image, cow, 1 << 20), /EEXIST/);
    assert.equal((await stat(cow)).size, 19);
    assert.deepEqual(runner.calls, []);
  });

  it('retries dmsetup remove with backoff while the device is busy', async () => {
    const rootfs = await store.create('sb_a', image, join(dir, 'a.cow'), 1 << 20);
    runner.failures.push({ match: /^dmsetup remove/, stderr: BUSY, times: 3 });
    runner.calls.length = 0;
    await store.remove(rootfs, { removeCow: true });
    assert.deepEqual(runner.calls.filter((c) => c.startsWith('dmsetup')), Array(4).fill('dmsetup remove wrenn-k-sb_a'));
    assert.deepEqual(sleeps, [50, 100, 200]);
    assert.equal(store.loops.refs(image), 0);
  });

  it('gives up after the last busy attempt and keeps the loops for a retry', async () => {
    const rootfs = await store.create('sb_a', image, join(dir, 'a.cow'), 1 << 20);
    runner.failures.push({ match: /^dmsetup remove/, stderr: BUSY, times: 100 });
    runner.calls.length = 0;
    await assert.rejects(store.remove(rootfs, { removeCow: true }), /Device or resource busy/);
    assert.equal(runner.calls.length, 6);
    assert.ok(runner.calls.every((c) => c === 'dmsetup remove wrenn-k-sb_a'), 'no loop detached under a live table');
    assert.ok(existsSync(rootfs.cowPath));
    assert.equal(store.loops.refs(image), 1);
  });

  it('does not retry other dmsetup errors', async () => {
    const rootfs = await store.create('sb_a', image, join(dir, 'a.cow'), 1 << 20);
    runner.failures.push({ match: /^dmsetup remove/, stderr: 'device-mapper: remove ioctl failed: Invalid argument\n', times: 100 });
    runner.calls.length = 0;
    await assert.rejects(store.remove(rootfs, { removeCow: true }), /Invalid argument/);
    assert.deepEqual(runner.calls, ['dmsetup remove wrenn-k-sb_a']);
    assert.deepEqual(sleeps, []);
  });

  it('counts a device already gone as removed', async () => {
    const rootfs = await store.create('sb_a', image, join(dir, 'a.cow'), 1 << 20);
    runner.failures.push({ match: /^dmsetup remove/, stderr: 'Device wrenn-k-sb_a not found\nCommand failed.\n', times: 1 });
    await store.remove(rootfs, { removeCow: true });
    assert.equal(store.loops.refs(image), 0);
    assert.ok(!existsSync(rootfs.cowPath));
  });

  it('rolls back the loops and the CoW file when dmsetup create fails', async () => {
    const cow = join(dir, 'a.cow');
    runner.failures.push({ match: /^dmsetup create/, stderr: 'device-mapper: reload ioctl on wrenn-k-sb_a failed: No such device or address\n', times: 1 });
    await assert.rejects(store.create('sb_a', image, cow, 1 << 20), /reload ioctl/);
    assert.deepEqual(runner.calls.slice(-2), ['losetup --detach /dev/loop11', 'losetup --detach /dev/loop10']);
    assert.equal(store.loops.refs(image), 0);
    assert.ok(!existsSync(cow));
  });

  it('flattens the device into a standalone sparse image', async () => {
    const rootfs = await store.create('sb_a', image, join(dir, 'a.cow'), 1 << 20);
    const target = join(dir, 'template.ext4');
    // cp is recorded, not run (the device node does not exist here): stand in for its output.
    await writeFile(target, '');
    await store.flatten(rootfs, target);
    assert.equal(runner.calls.at(-1), `cp --sparse=always /dev/mapper/wrenn-k-sb_a ${target}`);
  });
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copyBlankImage, createDiskImage, detachMount, isMountPoint, mountDiskImage, unmountDiskImage } from './disk-image';

/** The mount of `dir` as /proc/self/mountinfo has it: source, type and options. */
function mountOf(dir: string): { source: string; type: string; options: string[] } | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields[4] !== dir) continue;
    const rest = fields.slice(fields.indexOf('-') + 1);
    return { source: rest[1], type: rest[0], options: [...fields[5].split(','), ...rest[2].split(',')] };
  }
  return undefined;
}

/** Loop devices bound to `image` (losetup -j), as "/dev/loopN: …" lines. */
const loopsOf = (image: string) => execFileSync('losetup', ['-j', image], { encoding: 'utf8' }).trim();

/** The kernel frees an autoclear loop device on its last close, possibly from a work queue: a moment after. */
async function loopsLeft(image: string): Promise<string> {
  for (let i = 0; i < 100 && loopsOf(image) !== ''; i++) await new Promise((r) => setTimeout(r, 20));
  return loopsOf(image);
}

describe('sandbox disk images (root, kernel)', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) {
      if (await isMountPoint(join(dir, 'disk'))) await detachMount(join(dir, 'disk'));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('mounts a blank image as the sandbox disk: ext4, nosuid, nodev, noatime, discard, on a loop device of its own', async () => {
    const dir = await mkdtemp('/tmp/wrenn-tdisk-');
    dirs.push(dir);
    const image = join(dir, 'disk.img');
    await createDiskImage(image, 64);
    await mountDiskImage(image, join(dir, 'disk'));
    const mount = mountOf(join(dir, 'disk'));
    assert.equal(mount?.type, 'ext4');
    assert.match(mount!.source, /^\/dev\/loop\d+$/);
    for (const option of ['nosuid', 'nodev', 'noatime', 'discard']) assert.ok(mount!.options.includes(option), `${option} in ${mount!.options.join(',')}`);
    assert.ok(loopsOf(image).startsWith(`${mount!.source}:`));
    // What a sandbox writes there is its own: upper/ and work/ are there, writable by root.
    await writeFile(join(dir, 'disk/upper/file'), 'x');
    await unmountDiskImage(join(dir, 'disk'));
    assert.equal(await loopsLeft(image), '', 'the loop device went with the unmount (autoclear)');
  });

  it('a detached disk leaves no mount and no loop device behind, and detaching what is not mounted is no error', async () => {
    const dir = await mkdtemp('/tmp/wrenn-tdisk-');
    dirs.push(dir);
    const image = join(dir, 'disk.img');
    await createDiskImage(image, 64);
    await mountDiskImage(image, join(dir, 'disk'));
    await detachMount(join(dir, 'disk'));
    assert.equal(mountOf(join(dir, 'disk')), undefined);
    assert.equal(await loopsLeft(image), '');
    await detachMount(join(dir, 'disk'));
    await detachMount(join(dir, 'missing'));
  });

  it('a copy of a blank image is that blank disk, byte for byte and as sparse, and its own file', async () => {
    const dir = await mkdtemp('/tmp/wrenn-tdisk-');
    dirs.push(dir);
    const [blank, copy] = [join(dir, 'blank.img'), join(dir, 'copy.img')];
    await createDiskImage(blank, 64);
    const before = await readFile(blank);
    await copyBlankImage(blank, copy);
    assert.ok((await readFile(copy)).equals(before), 'the same bytes');
    const [b, c] = [await stat(blank), await stat(copy)];
    assert.equal(c.size, b.size);
    assert.ok(c.blocks <= b.blocks + 64, `as sparse (${c.blocks} blocks against ${b.blocks})`);
    assert.equal(c.mode & 0o777, 0o600, "root's alone");
    // A sandbox's writes on the copy stay on the copy.
    await mountDiskImage(copy, join(dir, 'disk'));
    assert.deepEqual((await readdir(join(dir, 'disk'))).filter((n) => n !== 'lost+found').sort(), ['upper', 'work']);
    await writeFile(join(dir, 'disk/upper/file'), 'tenant');
    await unmountDiskImage(join(dir, 'disk'));
    assert.ok((await readFile(blank)).equals(before), 'the blank image is untouched');
    await assert.rejects(copyBlankImage(blank, copy), /EEXIST/, 'never over an existing image');
  });

  it('a mount that fails frees the loop device it took', async () => {
    const dir = await mkdtemp('/tmp/wrenn-tdisk-');
    dirs.push(dir);
    const image = join(dir, 'not-a-disk.img');
    await writeFile(image, Buffer.alloc(1024 * 1024));
    await assert.rejects(mountDiskImage(image, join(dir, 'disk')), /mount .*not-a-disk\.img/);
    assert.equal(await loopsLeft(image), '');
    assert.equal(await isMountPoint(join(dir, 'disk')), false);
  });
});

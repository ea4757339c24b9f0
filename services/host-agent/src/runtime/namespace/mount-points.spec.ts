import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureMountPoints, mountPoints } from './mount-points';

describe('mountPoints', () => {
  it('has the Node binary and envd bundle points only for envd inside the sandbox', () => {
    const inside = mountPoints(2);
    assert.ok(inside.files.includes('opt/wrenn/bin/node') && inside.dirs.includes('opt/wrenn/envd'));
    const host = mountPoints(2, { envd: false });
    assert.deepEqual(host.files, ['run/wrenn/cgroup/1.procs', 'run/wrenn/cgroup/2.procs']);
    assert.ok(!host.dirs.some((d) => d.startsWith('opt')), host.dirs.join(' '));
  });
});

describe('ensureMountPoints', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('makes mount points real in an upper dir a sandbox may have planted symlinks in', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wrenn-overlay-'));
    dirs.push(root);
    const outside = join(root, 'outside');
    const upper = join(root, 'upper');
    await mkdir(outside);
    await writeFile(join(outside, 'precious'), 'host');
    await mkdir(join(upper, 'run'), { recursive: true });
    await symlink(outside, join(upper, 'opt')); // /opt → a host directory
    await symlink(join(outside, 'precious'), join(upper, 'run/wrenn')); // /run/wrenn → a host file
    await mkdir(join(upper, 'proc/kept'), { recursive: true }); // a real dir stays as it is

    await ensureMountPoints(upper, { dirs: ['proc', 'opt/wrenn/bin', 'run/wrenn/cgroup'], files: ['opt/wrenn/bin/node', 'run/wrenn/cgroup/1.procs'] });

    for (const dir of ['opt', 'opt/wrenn', 'opt/wrenn/bin', 'run/wrenn', 'run/wrenn/cgroup']) {
      assert.ok(lstatSync(join(upper, dir)).isDirectory(), `${dir} is a real directory`);
    }
    for (const file of ['opt/wrenn/bin/node', 'run/wrenn/cgroup/1.procs']) assert.ok(lstatSync(join(upper, file)).isFile(), `${file} is a real file`);
    assert.ok(existsSync(join(upper, 'proc/kept')), 'what was already right is left alone');
    assert.equal(readFileSync(join(outside, 'precious'), 'utf8'), 'host', 'nothing was written through the symlinks');
    assert.ok(!existsSync(join(outside, 'wrenn')));
  });

  it('replaces a directory where a file mount point goes, and is idempotent', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wrenn-overlay-'));
    dirs.push(root);
    const upper = join(root, 'upper');
    await mkdir(join(upper, 'opt/wrenn/bin/node/inside'), { recursive: true });
    const points = { dirs: ['opt/wrenn/bin'], files: ['opt/wrenn/bin/node'] };
    await ensureMountPoints(upper, points);
    await ensureMountPoints(upper, points);
    assert.ok(lstatSync(join(upper, 'opt/wrenn/bin/node')).isFile());
  });
});

import { Code, ConnectError } from '@connectrpc/connect';
import { filesystemPb } from '@wrenn/proto';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvdHarness, startEnvd } from '@wrenn/envd-test-support';

const { FileType, EventType } = filesystemPb;

async function rejectsWith(promise: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('envd filesystem service (a real envd over Connect, HTTP/1.1)', () => {
  let envd: EnvdHarness;
  before(async () => {
    envd = await startEnvd();
  });
  after(async () => {
    await envd?.stop();
  });

  it('MakeDir creates missing parents and answers already_exists the second time', async () => {
    const path = join(envd.dir, 'a/b/c');
    const { entry } = await envd.filesystem.makeDir({ path });
    assert.equal(entry?.type, FileType.DIRECTORY);
    assert.equal(entry?.path, path);
    assert.equal(entry?.name, 'c');
    assert.ok(existsSync(path));
    await rejectsWith(envd.filesystem.makeDir({ path }), Code.AlreadyExists);
    writeFileSync(join(envd.dir, 'plain'), 'x');
    await rejectsWith(envd.filesystem.makeDir({ path: join(envd.dir, 'plain') }), Code.InvalidArgument);
  });

  it('Stat describes a file, a directory and a symlink; not_found when missing', async () => {
    const file = join(envd.dir, 'stat.txt');
    writeFileSync(file, 'hello', { mode: 0o640 });
    const { entry } = await envd.filesystem.stat({ path: file });
    assert.equal(entry?.type, FileType.FILE);
    assert.equal(entry?.size, 5n);
    assert.equal(entry?.mode, 0o640);
    assert.equal(entry?.permissions, '-rw-r-----');
    assert.equal(entry?.owner, 'root');
    assert.ok(entry?.modifiedTime && entry.modifiedTime.seconds > 0n);

    const dir = (await envd.filesystem.stat({ path: envd.dir })).entry;
    assert.equal(dir?.type, FileType.DIRECTORY);

    symlinkSync(file, join(envd.dir, 'link'));
    const link = (await envd.filesystem.stat({ path: join(envd.dir, 'link') })).entry;
    assert.equal(link?.type, FileType.SYMLINK);
    assert.equal(link?.symlinkTarget, file);

    await rejectsWith(envd.filesystem.stat({ path: join(envd.dir, 'missing') }), Code.NotFound);
  });

  it('ListDir lists one level by default and deeper with depth', async () => {
    const root = join(envd.dir, 'tree');
    mkdirSync(join(root, 'sub/deeper'), { recursive: true });
    writeFileSync(join(root, 'one.txt'), '1');
    writeFileSync(join(root, 'sub/two.txt'), '2');
    writeFileSync(join(root, 'sub/deeper/three.txt'), '3');
    const names = (entries: filesystemPb.EntryInfo[]) => entries.map((e) => e.path.slice(root.length + 1)).sort();
    assert.deepEqual(names((await envd.filesystem.listDir({ path: root })).entries), ['one.txt', 'sub']);
    assert.deepEqual(names((await envd.filesystem.listDir({ path: root, depth: 2 })).entries), ['one.txt', 'sub', 'sub/deeper', 'sub/two.txt']);
    assert.equal((await envd.filesystem.listDir({ path: root, depth: 3 })).entries.length, 5);
    await rejectsWith(envd.filesystem.listDir({ path: join(root, 'one.txt') }), Code.InvalidArgument);
    await rejectsWith(envd.filesystem.listDir({ path: join(root, 'nope') }), Code.NotFound);
  });

  it('Move renames (creating the destination\'s parents) and not_found for a missing source', async () => {
    const source = join(envd.dir, 'move-me.txt');
    writeFileSync(source, 'moving');
    const destination = join(envd.dir, 'moved/here/now.txt');
    const { entry } = await envd.filesystem.move({ source, destination });
    assert.equal(entry?.path, destination);
    assert.equal(readFileSync(destination, 'utf8'), 'moving');
    assert.ok(!existsSync(source));
    await rejectsWith(envd.filesystem.move({ source, destination }), Code.NotFound);
  });

  it('Remove deletes files and whole trees; removing what is not there succeeds (like E2B)', async () => {
    const tree = join(envd.dir, 'doomed');
    mkdirSync(join(tree, 'x/y'), { recursive: true });
    writeFileSync(join(tree, 'x/y/f'), 'f');
    await envd.filesystem.remove({ path: tree });
    assert.ok(!existsSync(tree));
    await envd.filesystem.remove({ path: tree });
  });

  it('resolves ".." as E2B does: relative paths join the home, absolute ones go to the kernel as given', async () => {
    // From root's home (/root), "../<dir>" is <dir>'s absolute path: not confined to the home.
    const relative = `..${envd.dir}/dotdot`;
    const { entry } = await envd.filesystem.makeDir({ path: relative });
    assert.equal(entry?.path, join(envd.dir, 'dotdot'));
    // An absolute path keeps its "..": the kernel walks it, so the directory before ".." must exist.
    mkdirSync(join(envd.dir, 'real'));
    writeFileSync(join(envd.dir, 'target.txt'), 't');
    const viaReal = (await envd.filesystem.stat({ path: `${envd.dir}/real/../target.txt` })).entry;
    assert.equal(viaReal?.type, FileType.FILE);
    assert.equal(viaReal?.path, `${envd.dir}/real/../target.txt`);
    await rejectsWith(envd.filesystem.stat({ path: `${envd.dir}/ghost/../target.txt` }), Code.NotFound);
    await rejectsWith(envd.filesystem.stat({ path: '~someone/x' }), Code.InvalidArgument);
  });

  it('WatchDir streams start, then a created file (relative name); recursive sees new subdirectories', async () => {
    const watched = join(envd.dir, 'watched');
    mkdirSync(watched);
    const controller = new AbortController();
    const stream = envd.filesystem.watchDir({ path: watched, recursive: true, includeEntry: true }, { signal: controller.signal });
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value.event.case, 'start');
    const seen: filesystemPb.FilesystemEvent[] = [];
    const waitFor = async (pred: (e: filesystemPb.FilesystemEvent) => boolean) => {
      while (!seen.some(pred)) {
        const { value, done } = await iterator.next();
        if (done) throw new Error('stream ended');
        if (value.event.case === 'filesystem') seen.push(value.event.value);
      }
    };
    writeFileSync(join(watched, 'new.txt'), 'x');
    await waitFor((e) => e.name === 'new.txt' && e.type === EventType.CREATE);
    assert.equal(seen.find((e) => e.name === 'new.txt')?.entry?.type, FileType.FILE);
    mkdirSync(join(watched, 'nested'));
    await waitFor((e) => e.name === 'nested' && e.type === EventType.CREATE);
    // The new directory is watched before its CREATE goes out: a file written into it at once is seen.
    writeFileSync(join(watched, 'nested/inner.txt'), 'y');
    let deadline: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        waitFor((e) => e.name === 'nested/inner.txt'),
        new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error('no event from inside the new directory within 10 s')), 10_000))),
      ]);
    } finally {
      clearTimeout(deadline);
    }
    controller.abort();
    await iterator.return?.(undefined as never).catch(() => undefined);
  });

  it('the polling watcher: CreateWatcher, GetWatcherEvents, RemoveWatcher', async () => {
    const watched = join(envd.dir, 'polled');
    mkdirSync(watched);
    const { watcherId } = await envd.filesystem.createWatcher({ path: watched });
    assert.ok(watcherId);
    writeFileSync(join(watched, 'p.txt'), 'p');
    let events: filesystemPb.FilesystemEvent[] = [];
    for (let i = 0; i < 50 && !events.some((e) => e.name === 'p.txt'); i++) {
      events = events.concat((await envd.filesystem.getWatcherEvents({ watcherId })).events);
      await sleep(20);
    }
    assert.ok(events.some((e) => e.name === 'p.txt' && e.type === EventType.CREATE));
    await envd.filesystem.removeWatcher({ watcherId });
    await rejectsWith(envd.filesystem.getWatcherEvents({ watcherId }), Code.NotFound);
    await rejectsWith(envd.filesystem.createWatcher({ path: join(envd.dir, 'absent') }), Code.NotFound);
  });
});

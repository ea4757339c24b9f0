import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SaveStore, SNAPSHOTS, SnapshotMeta, TEMPLATES, TemplateMeta } from './saves.store';

const ID = 'sb_0123456789abcdefghijklmnop';
const TPL = 'tpl_0123456789abcdefghijklmnop';
const meta = (): SnapshotMeta => ({
  sandboxId: ID,
  snapshotRef: `snap_${ID}`,
  spec: { sandboxId: ID, teamId: 't', template: 'base', vcpus: 1, memoryMb: 128 },
  lower: ['/images/base'],
  sizeBytes: 0,
  pausedAt: '2026-01-01T00:00:00.000Z',
});
const size = async () => 4096;
const dirsToRemove: string[] = [];
after(async () => {
  for (const d of dirsToRemove) await rm(d, { recursive: true, force: true });
});

describe('SaveStore of snapshots', () => {
  const dirs: string[] = [];
  const fresh = async () => {
    const root = await mkdtemp(join(tmpdir(), 'wrenn-snapstore-'));
    dirs.push(root);
    const upper = join(root, 'sandbox-upper');
    await mkdir(join(upper, 'root'), { recursive: true });
    await writeFile(join(upper, 'root/file'), 'mine');
    return { store: new SaveStore<SnapshotMeta>(join(root, 'snapshots'), SNAPSHOTS), upper };
  };
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is complete only after commit, with the files moved in and measured', async () => {
    const { store, upper } = await fresh();
    await store.begin(ID, meta());
    assert.equal(await store.read(ID), undefined, 'a begun snapshot is not a snapshot');
    assert.deepEqual(await store.scan(), { complete: [], partial: [ID], deleting: [] });
    const done = await store.commit(ID, upper, size);
    assert.equal(done.sizeBytes, 4096);
    assert.equal(readFileSync(join(store.files(ID), 'root/file'), 'utf8'), 'mine');
    assert.ok(!existsSync(upper), 'moved, not copied');
    assert.deepEqual(await store.read(ID), done);
    assert.deepEqual(await store.scan(), { complete: [ID], partial: [], deleting: [] });
  });

  it('never throws away or restarts a partial snapshot that holds the files', async () => {
    const { store, upper } = await fresh();
    await store.begin(ID, meta());
    await store.commit(ID, upper, async () => {
      throw new Error('disk walk failed');
    }).catch(() => undefined);
    assert.ok(store.hasPartialFiles(ID), 'the files are in the partial snapshot');
    await assert.rejects(store.abort(ID), /completed, not aborted/);
    await assert.rejects(store.begin(ID, meta()), /completed, not begun again/);
    assert.equal(readFileSync(join(store.partialDir(ID), 'disk.img/root/file'), 'utf8'), 'mine');
  });

  it('commits from the partial alone when the files are already there', async () => {
    const { store, upper } = await fresh();
    await store.begin(ID, meta());
    await store.commit(ID, upper, async () => {
      throw new Error('disk walk failed');
    }).catch(() => undefined);
    const done = await store.commit(ID, undefined, size);
    assert.equal(readFileSync(join(store.files(ID), 'root/file'), 'utf8'), 'mine');
    assert.equal(done.sizeBytes, 4096);
  });

  it('refuses to commit a snapshot that was never begun or whose files are nowhere', async () => {
    const { store, upper } = await fresh();
    await assert.rejects(store.commit(ID, upper, size), /not begun/);
    await store.begin(ID, meta());
    await assert.rejects(store.commit(ID, join(upper, 'absent'), size), /not where/);
    await store.abort(ID);
    assert.deepEqual(await store.scan(), { complete: [], partial: [], deleting: [] });
  });

  it('leaves names that are not sandbox ids alone', async () => {
    const { store } = await fresh();
    await mkdir(join(store.root, 'not-ours'), { recursive: true });
    await mkdir(join(store.root, '../etc.partial'), { recursive: true });
    assert.deepEqual(await store.scan(), { complete: [], partial: [], deleting: [] });
    assert.ok(existsSync(join(store.root, 'not-ours')));
  });

  it('takes the files into a begun snapshot once (a retry finds them there), and never drops a partial one', async () => {
    const { store, upper } = await fresh();
    await assert.rejects(store.takeFiles(ID, upper), /not begun/);
    await store.begin(ID, meta());
    await store.takeFiles(ID, upper);
    await store.takeFiles(ID, upper); // moved already: success
    assert.ok(store.hasPartialFiles(ID) && !existsSync(upper));
    await assert.rejects(store.recoverCopies(), /only copy/);
    const done = await store.commit(ID, undefined, size);
    assert.equal(done.sizeBytes, 4096);
    await store.remove(ID);
    assert.deepEqual(await store.scan(), { complete: [], partial: [], deleting: [] });
  });
});

describe('SaveStore of templates', () => {
  it('copies the files into a begun template, keeps the source, and drops a partial copy on abort', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wrenn-tplstore-'));
    dirsToRemove.push(root);
    const store = new SaveStore<TemplateMeta>(join(root, 'templates'), TEMPLATES);
    const upper = join(root, 'upper');
    await mkdir(join(upper, 'root'), { recursive: true });
    await writeFile(join(upper, 'root/file'), 'mine');
    const template: TemplateMeta = { templateId: TPL, lower: ['/images/base'], baseImage: '/images/base', sourceSandboxId: ID, sizeBytes: 0, createdAt: '' };
    await store.begin(TPL, template);
    await store.copyFiles(TPL, upper);
    assert.equal(readFileSync(join(upper, 'root/file'), 'utf8'), 'mine', 'the source keeps its files');
    await store.abort(TPL);
    assert.deepEqual(await store.scan(), { complete: [], partial: [], deleting: [] }, 'a copy is dropped');
    await store.begin(TPL, template);
    await store.copyFiles(TPL, upper);
    const done = await store.commit(TPL, undefined, size);
    assert.equal(done.sizeBytes, 4096);
    assert.equal(readFileSync(join(store.files(TPL), 'root/file'), 'utf8'), 'mine');
    assert.deepEqual(await store.read(TPL), done);
  });

  it('recovers whole templates and removes half-copied, half-deleted and meta-less ones', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wrenn-tplstore-'));
    try {
      const store = new SaveStore<TemplateMeta>(root, TEMPLATES);
      const whole = TPL;
      const noMeta = 'tpl_1123456789abcdefghijklmnop';
      const partial = 'tpl_2123456789abcdefghijklmnop';
      const deleting = 'tpl_3123456789abcdefghijklmnop';
      await mkdir(store.files(whole), { recursive: true });
      await writeFile(join(store.dir(whole), 'meta.json'), JSON.stringify({ templateId: whole, lower: ['/images/base'], baseImage: '/images/base', sourceSandboxId: ID, sizeBytes: 1, createdAt: '' }));
      await mkdir(store.files(noMeta), { recursive: true });
      await mkdir(join(root, `${partial}.partial`, 'layer'), { recursive: true });
      await mkdir(join(root, `${deleting}.deleting`, 'layer'), { recursive: true });
      await mkdir(join(root, 'lost+found'));
      const { saves: templates, removed } = await store.recoverCopies();
      assert.deepEqual(templates.map((t) => t.templateId), [whole]);
      assert.deepEqual(removed.sort(), [noMeta, `${partial}.partial`, `${deleting}.deleting`].sort());
      assert.ok(existsSync(join(root, 'lost+found')), 'not ours: kept');
      await store.remove(whole);
      await store.remove(whole); // absent is success
      assert.ok(!existsSync(store.dir(whole)));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SandboxSpec } from '@wrenn/contracts';
import { ulid } from 'ulid';
import { CgroupManager } from '../../cgroups';
import { EnvdClient, envdClientFor } from '../../envd-client/envd.client';
import { NetworkManager } from '../../networking';
import { LifecycleStep, NamespaceRuntime, NamespaceRuntimeOptions } from './namespace-sandboxes';
import { isSameProcess } from '../../runtime/namespace/proc';
import { START_STEPS } from '../lifecycle';
import { PAUSE_ORDER } from '../save';
import { unusedSlotCidr } from '../../networking';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(223);

const IMAGE_DIR = process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images';
const KEY = `p${Math.random().toString(36).slice(2, 6)}`;
const GROUP = `wrenn-${KEY}`;
const managers: NetworkManager[] = [];
/** Fails the operation at this step when set (failure injection on the real kernel). */
let failAt: LifecycleStep | undefined;

function newRuntime(stateDir: string, extra: Partial<NamespaceRuntimeOptions> = {}): { runtime: NamespaceRuntime; network: NetworkManager } {
  const network = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 1 });
  managers.push(network);
  const runtime = new NamespaceRuntime({
    stateDir,
    imageDir: IMAGE_DIR,
    network,
    cgroups: new CgroupManager({ group: GROUP }),
    envdHost: {},
    checkpoint: (step) => {
      if (step === failAt) throw new Error(`injected failure at ${step}`);
    },
    ...extra,
  });
  return { runtime, network };
}
const newId = () => `sb_${ulid().toLowerCase()}`;
const newTemplateId = () => `tpl_${ulid().toLowerCase()}`;
const spec = (sandboxId: string, over: Partial<SandboxSpec> = {}): SandboxSpec => ({ sandboxId, teamId: 't', template: 'base', vcpus: 1, memoryMb: 128, ...over });
const code = (c: string) => (e: { code?: string }) => e.code === c;
/** A file of a (not mounted) sandbox disk image, read with e2fsprogs' debugfs. */
function readInImage(image: string, path: string): string {
  const r = spawnSync('debugfs', ['-R', `cat ${path}`, image], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`debugfs: ${r.stderr}`);
  return r.stdout;
}

describe(`${NamespaceRuntime.name}: pause, resume and templates (root, kernel)`, { timeout: 300_000 }, () => {
  let stateDir: string;
  let runtime: NamespaceRuntime;
  let network: NetworkManager;
  const cgroups = new CgroupManager({ group: GROUP });
  const made: string[] = [];
  const templatesMade: string[] = [];
  const clients: EnvdClient[] = [];

  const create = async (over: Partial<SandboxSpec> = {}, rt = runtime) => {
    const id = newId();
    made.push(id);
    await rt.create(spec(id, over));
    return id;
  };
  const sh = async (id: string, script: string, rt = runtime) => {
    const client = envdClientFor(id, await rt.endpoint(id));
    clients.push(client);
    return client.exec({ cmd: 'sh', args: ['-c', script], user: 'root' }, 10);
  };
  const metaOf = (id: string) => JSON.parse(readFileSync(join(stateDir, 'sandboxes', id, 'meta.json'), 'utf8'));
  const netnsExists = (name: string) => spawnSync('ip', ['netns', 'list']).stdout.toString().split('\n').some((l) => l.split(' ')[0] === name);
  /** Everything a running sandbox holds on the host is gone: processes, slot, mounts, cgroups, dir. */
  const assertReleased = async (id: string, meta: { initPid: number; initStart: string; network: { index: number }; dir?: string }, net = network) => {
    assert.equal(await isSameProcess(meta.initPid, meta.initStart), false, 'the init is gone');
    assert.ok(!net.describe().inUse.includes(meta.network.index), 'the network slot is back');
    // A released slot is torn down, or, when the pool has room, cleaned and pooled for the next
    // sandbox (its netns then stays, empty: the process check below covers it).
    const recycled = net.describe().pooledIndexes.includes(meta.network.index);
    assert.ok(recycled || !netnsExists(`wrenn-${KEY}-${meta.network.index}`), 'its netns is gone or back in the pool');
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(id), 'no mount');
    assert.ok(!(await cgroups.list()).includes(id), 'no cgroup');
    assert.ok(!existsSync(join(stateDir, 'sandboxes', id)), 'no sandbox dir');
    const mine = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(id) || (meta.dir && cmdline.includes(meta.dir))) mine.push(pid);
    }
    assert.deepEqual(mine, [], 'no process of the sandbox is left');
  };

  /**
   * What an agent restart looks like to the runtime: the old one's background work stops (its
   * pooled slot goes), a new instance over the same state dir takes over (recover() is the
   * caller's), and the rest of the suite uses it.
   */
  const restartAgent = async () => {
    await network.stop();
    const next = newRuntime(stateDir);
    ({ runtime, network } = next);
    return runtime;
  };

  before(async () => {
    stateDir = await mkdtemp('/tmp/wrenn-phost-');
    ({ runtime, network } = newRuntime(stateDir));
    await runtime.prepare(); // builds the base image on a fresh host (~30-60 s)
    await runtime.recover();
  });
  after(async () => {
    failAt = undefined;
    for (const c of clients) c.close();
    for (const id of made) await runtime.destroy(id).catch(() => undefined);
    for (const tpl of templatesMade.reverse()) await runtime.deleteTemplate(tpl).catch(() => undefined);
    for (const m of managers) await m.stop().catch(() => undefined);
    await managers[0].stop({ removeHostRules: true });
    await cgroups.removeGroup();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('pause keeps the files and frees everything; resume brings back the same files and hostname', async (t) => {
    const id = await create();
    assert.equal((await sh(id, 'echo kept > /root/note.txt && rm /etc/issue && mkdir -p /srv/a && echo deep > /srv/a/b')).exitCode, 0);
    const meta = metaOf(id);
    let started = performance.now();
    const paused = await runtime.pause(id);
    t.diagnostic(`pause: ${(performance.now() - started).toFixed(1)} ms`);
    assert.equal(paused.snapshotRef, `snap_${id}`);
    assert.ok(paused.sizeBytes > 0, 'the snapshot has a size on disk');
    await assertReleased(id, meta);
    assert.deepEqual(await runtime.listPaused(), [id]);
    assert.ok(!(await runtime.list()).includes(id));
    assert.equal(readInImage(join(stateDir, 'snapshots', id, 'disk.img'), '/upper/root/note.txt'), 'kept\n');
    await assert.rejects(runtime.endpoint(id), code('sandbox_not_found'));
    assert.deepEqual(await runtime.pause(id), paused, 'a retried pause answers the same snapshot');

    started = performance.now();
    await runtime.resume(spec(id), paused.snapshotRef);
    t.diagnostic(`resume: ${(performance.now() - started).toFixed(1)} ms`);
    const after = await sh(id, 'cat /root/note.txt /srv/a/b; hostname; test -e /etc/issue && echo issue-back || echo issue-gone');
    assert.equal(after.stdout, `kept\ndeep\n${id}\nissue-gone\n`);
    assert.deepEqual(await runtime.listPaused(), []);
    assert.ok((await runtime.list()).includes(id));
    assert.ok(!existsSync(join(stateDir, 'snapshots', id)), 'the spent snapshot is gone');
    await runtime.resume(spec(id), paused.snapshotRef); // a retried resume of a running sandbox succeeds
    assert.equal((await sh(id, 'echo again')).stdout, 'again\n');
  });

  it('destroy of a paused sandbox removes its snapshot', async () => {
    const id = await create();
    await runtime.pause(id);
    await runtime.destroy(id);
    assert.ok(!existsSync(join(stateDir, 'snapshots', id)));
    assert.deepEqual(await runtime.listPaused(), []);
    await assert.rejects(runtime.resume(spec(id), `snap_${id}`), code('sandbox_not_found'));
  });

  it('a template made from a sandbox gives new sandboxes its files, not each other\'s writes', async (t) => {
    const source = await create();
    // A file deleted (whiteout) and a directory emptied and remade (opaque) must stay so in the layer.
    const prepared = await sh(source, 'echo from-template > /root/seed.txt && rm /etc/issue && chown 1000:1000 /root/seed.txt && chmod 640 /root/seed.txt && rm -rf /etc/apt/apt.conf.d && mkdir /etc/apt/apt.conf.d && echo new > /etc/apt/apt.conf.d/only');
    assert.equal(prepared.exitCode, 0, prepared.stderr);
    const tpl = newTemplateId();
    templatesMade.push(tpl);
    const started = performance.now();
    const { sizeBytes } = await runtime.createTemplate(source, tpl, 'my-template');
    t.diagnostic(`template from a sandbox: ${(performance.now() - started).toFixed(1)} ms, ${sizeBytes} bytes`);
    assert.ok(sizeBytes > 0);
    assert.equal((await sh(source, 'echo still-running')).stdout, 'still-running\n', 'the source keeps running (thawed)');
    assert.deepEqual(await runtime.createTemplate(source, tpl, 'my-template'), { sizeBytes }, 'a retry answers the same template');

    const a = await create({ templateId: tpl });
    const b = await create({ templateId: tpl });
    for (const id of [a, b]) {
      const r = await sh(id, 'cat /root/seed.txt; stat -c %u:%g:%a /root/seed.txt; test -e /etc/issue && echo issue || echo no-issue; ls /etc/apt/apt.conf.d; hostname');
      assert.equal(r.stdout, `from-template\n1000:1000:640\nno-issue\nonly\n${id}\n`);
    }
    assert.equal((await sh(a, 'echo only-a > /root/a.txt && echo changed > /root/seed.txt')).exitCode, 0);
    assert.equal((await sh(b, 'cat /root/seed.txt; test -e /root/a.txt && echo sees-a || echo no-a')).stdout, 'from-template\nno-a\n');
    assert.equal((await sh(source, 'test -e /root/a.txt && echo sees-a || echo no-a')).stdout, 'no-a\n');

    // A template-derived sandbox pauses and resumes over the same stack.
    const meta = metaOf(a);
    await runtime.pause(a);
    await assertReleased(a, meta);
    await runtime.resume(spec(a, { templateId: tpl }), `snap_${a}`);
    assert.equal((await sh(a, 'cat /root/seed.txt /root/a.txt; test -e /etc/issue && echo issue || echo no-issue')).stdout, 'changed\nonly-a\nno-issue\n');

    // In use by running and paused sandboxes: refused; once they are gone: deleted.
    await assert.rejects(runtime.deleteTemplate(tpl), code('template_in_use'));
    await runtime.destroy(a);
    await runtime.pause(b);
    await assert.rejects(runtime.deleteTemplate(tpl), code('template_in_use'));
    await runtime.destroy(b);
    await runtime.deleteTemplate(tpl);
    assert.ok(!existsSync(join(stateDir, 'templates', tpl)));
    await runtime.deleteTemplate(tpl); // absent is success
    await assert.rejects(runtime.create(spec(newId(), { templateId: tpl })), code('template_not_found'));
  });

  it('a template of a template-derived sandbox keeps both layers, and holds its parent in use', async () => {
    const source = await create();
    await sh(source, 'echo one > /root/one.txt');
    const parent = newTemplateId();
    templatesMade.push(parent);
    await runtime.createTemplate(source, parent, 'parent');
    const mid = await create({ templateId: parent });
    await sh(mid, 'echo two > /root/two.txt && rm /root/one.txt');
    const child = newTemplateId();
    templatesMade.push(child);
    await runtime.createTemplate(mid, child, 'child');
    await runtime.destroy(source);
    await runtime.destroy(mid);
    const leaf = await create({ templateId: child });
    assert.equal((await sh(leaf, 'cat /root/two.txt; test -e /root/one.txt && echo one || echo no-one')).stdout, 'two\nno-one\n');
    await runtime.destroy(leaf);
    await assert.rejects(runtime.deleteTemplate(parent), code('template_in_use'), 'the child template stands on it');
    await runtime.deleteTemplate(child);
    await runtime.deleteTemplate(parent);
  });

  it('a pause that fails after the freeze leaves the sandbox running and usable', async () => {
    const id = await create();
    await sh(id, 'echo before > /root/f');
    // Every step after the freeze up to the one that cannot be undone (the kill, with the disk).
    for (const step of PAUSE_ORDER.slice(1, PAUSE_ORDER.indexOf('snapshot disk') + 1).map((s) => `pause:${s}` as LifecycleStep)) {
      failAt = step;
      await assert.rejects(runtime.pause(id), /injected failure/);
      failAt = undefined;
      assert.equal((await sh(id, 'cat /root/f && echo after >> /root/f && cat /root/f')).stdout, 'before\nbefore\nafter\n', `usable after a failure at ${step}`);
      await sh(id, 'echo before > /root/f');
      assert.ok(!existsSync(join(stateDir, 'snapshots', `${id}.partial`)), 'no half-made snapshot');
      assert.ok(!(await runtime.listPaused()).includes(id));
    }
    const freezer = readFileSync(`/sys/fs/cgroup/freezer/${GROUP}/${id}/freezer.state`, 'utf8').trim();
    assert.equal(freezer, 'THAWED');
  });

  it('a pause that fails after the kill still leaves the files, and a retry completes it', async () => {
    const id = await create();
    await sh(id, 'echo precious > /root/data');
    const meta = metaOf(id);
    failAt = 'pause:record';
    await assert.rejects(runtime.pause(id), /injected failure/);
    failAt = undefined;
    assert.ok(!(await runtime.list()).includes(id), 'its processes are gone');
    const paused = await runtime.pause(id);
    assert.equal(paused.snapshotRef, `snap_${id}`);
    await assertReleased(id, meta);
    await runtime.resume(spec(id), paused.snapshotRef);
    assert.equal((await sh(id, 'cat /root/data')).stdout, 'precious\n');
  });

  it('a pause cut short after the kill is listed as paused, so the reconciler does not take it for a crash and destroy its files', async () => {
    const id = await create();
    await sh(id, 'echo precious > /root/data');
    failAt = 'pause:record';
    await assert.rejects(runtime.pause(id), /injected failure/);
    failAt = undefined;
    assert.ok(!(await runtime.list()).includes(id), 'its processes are gone');
    assert.ok((await runtime.listPaused()).includes(id), 'its files wait in a snapshot a retry completes');
    const paused = await runtime.pause(id);
    assert.deepEqual((await runtime.listPaused()).filter((p) => p === id), [id], 'listed once when complete');
    await runtime.resume(spec(id), paused.snapshotRef);
    assert.ok(!(await runtime.listPaused()).includes(id), 'a resumed sandbox is not listed paused');
    assert.equal((await sh(id, 'cat /root/data')).stdout, 'precious\n');
  });

  it('a resume that fails midway leaves the snapshot intact, and a retry succeeds', async () => {
    const id = await create();
    await sh(id, 'echo survives > /root/data');
    const { snapshotRef } = await runtime.pause(id);
    const slotsBefore = network.describe().inUse;
    for (const step of START_STEPS.map((s) => `start:${s.name}` as LifecycleStep)) {
      failAt = step;
      await assert.rejects(runtime.resume(spec(id), snapshotRef), /injected failure/);
      failAt = undefined;
      assert.equal(readInImage(join(stateDir, 'snapshots', id, 'disk.img'), '/upper/root/data'), 'survives\n', `files back in the snapshot after a failure at ${step}`);
      assert.deepEqual(await runtime.listPaused(), [id]);
      assert.ok(!existsSync(join(stateDir, 'sandboxes', id)), 'no sandbox dir');
      assert.ok(!(await cgroups.list()).includes(id), 'no cgroup');
      assert.deepEqual(network.describe().inUse, slotsBefore, 'the slot it took is released');
    }
    await runtime.resume(spec(id), snapshotRef);
    assert.equal(network.describe().inUse.length, slotsBefore.length + 1, 'exactly one slot taken by the successful resume');
    assert.equal((await sh(id, 'cat /root/data; hostname')).stdout, `survives\n${id}\n`);
  });

  it('refuses to create over a paused sandbox, and a template from a paused one', async () => {
    const id = await create();
    await runtime.pause(id);
    await assert.rejects(runtime.create(spec(id)), code('sandbox_exists'));
    await assert.rejects(runtime.createTemplate(id, newTemplateId()), code('invalid_state'));
    await runtime.destroy(id);
  });

  it('an agent restart re-adopts paused snapshots and templates, and completes a pause cut short', async () => {
    const source = await create();
    await sh(source, 'echo tpl > /root/t');
    const tpl = newTemplateId();
    templatesMade.push(tpl);
    await runtime.createTemplate(source, tpl, 'restart');
    const paused = await create({ templateId: tpl });
    await sh(paused, 'echo mine > /root/m');
    await runtime.pause(paused);
    const cut = await create();
    await sh(cut, 'echo cut > /root/c');
    failAt = 'pause:record';
    await assert.rejects(runtime.pause(cut), /injected failure/);
    failAt = undefined;
    // Leftovers of half-made work the restart must remove.
    const halfTemplate = newTemplateId();
    await rm(join(stateDir, 'templates', `${halfTemplate}.partial`), { recursive: true, force: true });
    spawnSync('mkdir', ['-p', join(stateDir, 'templates', `${halfTemplate}.partial`, 'layer')]);

    const restarted = await restartAgent();
    const report = await restarted.recover();
    assert.ok(report.adopted.includes(source));
    assert.deepEqual(report.paused, [paused, cut].sort());
    assert.deepEqual(report.templates, [tpl]);
    assert.ok(!(await readdir(join(stateDir, 'templates'))).some((n) => n.startsWith(halfTemplate)), 'half-made template removed');
    assert.deepEqual(await restarted.listPaused(), [paused, cut].sort());
    await assert.rejects(restarted.deleteTemplate(tpl), code('template_in_use'), 'the paused sandbox still stands on it');

    await restarted.resume(spec(paused, { templateId: tpl }), `snap_${paused}`);
    assert.equal((await sh(paused, 'cat /root/t /root/m', restarted)).stdout, 'tpl\nmine\n');
    await restarted.resume(spec(cut), `snap_${cut}`);
    assert.equal((await sh(cut, 'cat /root/c', restarted)).stdout, 'cut\n');
    const fresh = await create({ templateId: tpl }, restarted);
    assert.equal((await sh(fresh, 'cat /root/t', restarted)).stdout, 'tpl\n');
    for (const id of [source, paused, cut, fresh]) await restarted.destroy(id);
    await restarted.deleteTemplate(tpl);
  });

  it('after a restart, a resume or a pause the crash cut short is settled without losing files', async () => {
    // A resume that had moved the files into its half-made sandbox dir (no meta.json yet).
    const resumed = await create();
    await sh(resumed, 'echo resumed-files > /root/r');
    await runtime.pause(resumed);
    await mkdir(join(stateDir, 'sandboxes', resumed), { recursive: true });
    await rename(join(stateDir, 'snapshots', resumed, 'disk.img'), join(stateDir, 'sandboxes', resumed, 'disk.img'));
    // A pause that had frozen the sandbox and begun its snapshot (the kill may or may not have
    // been sent): it is completed, so the files are never left in a sandbox that may be dying.
    const frozen = await create();
    await sh(frozen, 'echo frozen-files > /root/f');
    const frozenMeta = metaOf(frozen);
    await cgroups.freeze(frozen);
    const partialMeta = (id: string) => JSON.stringify({ sandboxId: id, snapshotRef: `snap_${id}`, spec: spec(id), lower: [join(IMAGE_DIR, 'base-r2')], sizeBytes: 0, pausedAt: '' });
    await mkdir(join(stateDir, 'snapshots', `${frozen}.partial`), { recursive: true });
    await writeFile(join(stateDir, 'snapshots', `${frozen}.partial`, 'meta.json'), partialMeta(frozen));
    // One whose pause was being undone (thawed already): the partial goes, it keeps running.
    const thawed = await create();
    await sh(thawed, 'echo still-running > /root/t');
    await mkdir(join(stateDir, 'snapshots', `${thawed}.partial`), { recursive: true });
    await writeFile(join(stateDir, 'snapshots', `${thawed}.partial`, 'meta.json'), partialMeta(thawed));

    const restarted = await restartAgent();
    const report = await restarted.recover();
    assert.ok(report.paused?.includes(resumed), 'the snapshot is whole again');
    assert.equal(readInImage(join(stateDir, 'snapshots', resumed, 'disk.img'), '/upper/root/r'), 'resumed-files\n');
    assert.ok(!existsSync(join(stateDir, 'sandboxes', resumed)), 'the half-made sandbox is gone');
    assert.ok(report.paused?.includes(frozen) && !report.adopted.includes(frozen), 'the frozen one is paused');
    assert.ok(!report.removed.includes(frozen));
    await assertReleased(frozen, frozenMeta, network);
    assert.ok(report.adopted.includes(thawed) && !report.paused?.includes(thawed), 'the thawed one runs on');
    assert.ok(!existsSync(join(stateDir, 'snapshots', `${thawed}.partial`)));
    assert.equal((await sh(thawed, 'cat /root/t', restarted)).stdout, 'still-running\n');
    await restarted.resume(spec(resumed), `snap_${resumed}`);
    assert.equal((await sh(resumed, 'cat /root/r', restarted)).stdout, 'resumed-files\n');
    await restarted.resume(spec(frozen), `snap_${frozen}`);
    assert.equal((await sh(frozen, 'cat /root/f', restarted)).stdout, 'frozen-files\n');
    for (const id of [resumed, frozen, thawed]) await restarted.destroy(id);
  });

  it('after a restart, a pause cut short that recovery cannot complete keeps its files where they are', async () => {
    const cut = await create();
    await sh(cut, 'echo only-copy > /root/c');
    const dir = metaOf(cut).dir as string;
    failAt = 'pause:record';
    await assert.rejects(runtime.pause(cut), /injected failure/);
    failAt = undefined;
    // As if the agent had died between the kill and the move: the files are still in the sandbox dir.
    await rename(join(stateDir, 'snapshots', `${cut}.partial`, 'disk.img'), join(dir, 'disk.img'));
    // The partial snapshot is unreadable: completing it fails, as on a disk error.
    await rm(join(stateDir, 'snapshots', `${cut}.partial`, 'meta.json'));

    const restarted = await restartAgent();
    const report = await restarted.recover();
    assert.ok(!report.removed.includes(cut), 'not reported removed');
    assert.equal(readInImage(join(stateDir, 'snapshots', `${cut}.partial`, 'disk.img'), '/upper/root/c'), 'only-copy\n', 'the files wait in the partial snapshot');
    assert.ok((await restarted.listPaused()).includes(cut), 'listed paused, so the reconciler keeps it');
    await restarted.destroy(cut);
    assert.ok(!existsSync(dir), 'a destroy still removes it all');
  });

  it('never runs a program of a resumed or template-made root with privileges, nor follows its symlinks out', async () => {
    const hostDir = await mkdtemp('/tmp/wrenn-phost-escape-');
    try {
      const id = await create();
      // Tools a start might run, replaced by ones that report where they ran and write through a
      // mount point of the start's, planted as a symlink to a host directory.
      const wrap = ['umount', 'rmdir', 'mkdir', 'setpriv', 'mount', 'cp', 'perl', 'pivot_root'];
      const planted = await sh(id, [
        'set -e; mkdir -p /usr/local/lib/orig',
        ...wrap.map((t) => `p=$(command -v ${t} || echo /usr/sbin/${t}); if [ -e "$p" ]; then cp -a "$p" /usr/local/lib/orig/${t}; fi; printf '#!/bin/sh\\necho "$0" >> /run/wrenn/escaped 2>/dev/null\\necho "$0" >> /ran-at-start\\nexec /usr/local/lib/orig/${t} "$@"\\n' > "$p"; chmod 755 "$p"`),
        `rm -rf /run/wrenn && ln -s ${hostDir} /run/wrenn`,
        'echo kept > /root/kept',
        'rm -f /ran-at-start', // the wrappers ran while being planted; only later runs count
      ].join('\n'));
      assert.equal(planted.exitCode, 0, planted.stderr);
      const tpl = newTemplateId();
      templatesMade.push(tpl);
      await runtime.createTemplate(id, tpl, 'planted');
      await runtime.pause(id);
      await runtime.resume(spec(id), `snap_${id}`);
      const fromTemplate = await create({ templateId: tpl });
      for (const sandbox of [id, fromTemplate]) {
        const r = await sh(sandbox, 'cat /root/kept; test -e /ran-at-start && cat /ran-at-start || echo none-ran; test -L /run/wrenn && echo link || echo no-link; grep CapBnd /proc/1/status');
        assert.equal(r.stdout, 'kept\nnone-ran\nno-link\nCapBnd:\t00000000a00425fb\n', `${sandbox}: nothing of its own ran at its start, with its kept capabilities only`);
      }
      assert.deepEqual(await readdir(hostDir), [], 'nothing reached the host directory');
      for (const sandbox of [id, fromTemplate]) await runtime.destroy(sandbox);
    } finally {
      await rm(hostDir, { recursive: true, force: true });
    }
  });

  it('pauses and resumes a sandbox that came from the warm pool', async () => {
    const warmDir = await mkdtemp('/tmp/wrenn-phost-warm-');
    const { runtime: warm, network: warmNet } = newRuntime(warmDir, { warmPoolSize: 1 });
    await warm.prepare();
    await warm.recover();
    const id = newId();
    try {
      const deadline = Date.now() + 30_000;
      while (warm.warmReady === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(warm.warmReady, 1, 'a warm sandbox started within 30 s');
      await warm.create(spec(id));
      const meta = JSON.parse(readFileSync(join(warmDir, 'sandboxes', id, 'meta.json'), 'utf8'));
      assert.ok(meta.dir.startsWith(join(warmDir, 'warm')), 'the create claimed a warm sandbox');
      await sh(id, 'echo warm > /root/w', warm);
      await warm.pause(id);
      assert.ok(!existsSync(meta.dir), 'the warm dir is released');
      assert.ok(!existsSync(join(warmDir, 'sandboxes', id)), 'the link is gone');
      assert.ok(!warmNet.describe().inUse.includes(meta.network.index));
      assert.ok(!(await cgroups.list()).includes(id));
      await warm.resume(spec(id), `snap_${id}`);
      assert.equal((await sh(id, 'cat /root/w; hostname', warm)).stdout, `warm\n${id}\n`);
      await warm.destroy(id);
    } finally {
      await warm.destroy(id).catch(() => undefined);
      await warm.shutdown();
      await rm(warmDir, { recursive: true, force: true });
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { isZombieOrGone, signal } from '../../runtime/namespace/proc';
import { addGuestTap, NetworkManager } from '../../networking';
import { fakeFirecrackerRuntimeDirs, FirecrackerSpec, RecordedCall, RecordingRunner, SPEC_MISSING, writeFakeFirecrackerBinary } from '@wrenn/host-agent-test-support';
import { DmSnapshotStore } from '../../rootfs/dm-snapshot.store';
import { MAX_GENERATIONS, readHeaderFile, headerFileName } from '../../snapshot';
import { FirecrackerClient } from '../../runtime/firecracker/firecracker.client';
import { FirecrackerRuntime } from './firecracker-sandboxes';
import { MemorySnapshots } from '../../runtime/firecracker/memory-snapshots';
import { CgroupManager } from '../../cgroups';
import { SlotTapNetworks } from '../../networking/vm-networks';
import { unusedSlotCidr } from '../../networking';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(233);

/**
 * The real FirecrackerRuntime driven against a stand-in `firecracker` (the fake API server as a
 * process, launched by the real launcher in real network slots with the guest TAP), the real
 * header code and userfaultfd page server, and device-mapper on a recording command runner
 * (this kernel has no device-mapper). No guest boots: envd's health is taken as given.
 */

const KEY = `f${randomBytes(2).toString('hex')}`;
const spec = SPEC_MISSING ? (undefined as unknown as FirecrackerSpec) : new FirecrackerSpec();

describe(`${FirecrackerRuntime.name} against a stand-in Firecracker (root, kernel)`, { skip: SPEC_MISSING }, () => {
  let dir: string;
  let runtime: FirecrackerRuntime;
  let runner: RecordingRunner;
  let slots: NetworkManager;
  let binary: string;
  const envdUrls: string[] = [];
  const identities: Array<[string, string, string[], string]> = [];
  /** What each guest's envd was handed through /init: url, new token, the token it held. */
  const inits: Array<[string, string, string | undefined]> = [];
  /** A runtime as an agent builds it (a new one per agent start). */
  const makeRuntime = () => {
    slots = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 0, prepareSlot: addGuestTap });
    return new FirecrackerRuntime({
      stateDir: join(dir, 'state'),
      imageDir: join(dir, 'images'),
      binary,
      kernelPath: join(dir, 'vmlinux'),
      network: new SlotTapNetworks(slots, true),
      rootfs: new DmSnapshotStore({ namePrefix: `wrenn-${KEY}-`, runner, deviceDir: join(dir, 'mapper') }),
      memory: new MemorySnapshots(),
      stableDir: '/run/wrenn/fc-vm',
      cgroups: new CgroupManager({ group: `wrenn-${KEY}` }),
      vmmRuntimeDirs: fakeFirecrackerRuntimeDirs(join(dir, 'bin')),
      waitForEnvd: async (url) => void envdUrls.push(url),
      setIdentity: async (url, sandboxId, nameservers, token) => void identities.push([url, sandboxId, nameservers, token]),
      initEnvd: async (url, token, current) => void inits.push([url, token, current]),
    });
  };
  const id = `sb_${ulid().toLowerCase()}`;
  const sandboxDir = () => join(dir, 'state/firecracker/sandboxes', id);
  const calls = (sandbox = id): RecordedCall[] =>
    readFileSync(join(dir, 'state/firecracker/sandboxes', sandbox, 'jail/api/fake-firecracker.calls.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RecordedCall)
      .filter((c) => !(c.method === 'GET' && c.path === '/'));
  let seen = 0;
  /** Calls since the last look, as "METHOD path", each checked against the pinned spec. */
  const newCalls = (sandbox = id) => {
    const all = calls(sandbox);
    const fresh = all.slice(seen);
    seen = all.length;
    for (const c of fresh) assert.ok(!('error' in spec.check(c.method, c.path, c.body)), `${c.method} ${c.path} matches the spec`);
    return fresh;
  };
  const vmmPids = () =>
    readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => {
        try {
          const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8');
          // Jailed VMMs name no host path: ours are those in this agent's cgroups.
          return cmdline.includes('fake-firecracker.main.js') && readFileSync(`/proc/${e}/cgroup`, 'utf8').includes(`/wrenn-${KEY}/`) && !readFileSync(`/proc/${e}/stat`, 'utf8').includes(') Z');
        } catch {
          return false;
        }
      });
  const pageServerPids = () =>
    readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => {
        try {
          const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8');
          return cmdline.includes('page-server.main.js') && cmdline.includes(`${dir}/state/firecracker/sandboxes/`) && !readFileSync(`/proc/${e}/stat`, 'utf8').includes(') Z');
        } catch {
          return false;
        }
      });
  const ourNetns = () => execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`wrenn-${KEY}-`));
  const faults = (f: Record<string, string>) => writeFile(join(sandboxDir(), 'jail/api/fake-firecracker.faults.json'), JSON.stringify(f));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-fc-'));
    const imageDir = join(dir, 'images');
    await mkdir(join(imageDir, 'firecracker'), { recursive: true });
    await writeFile(join(imageDir, 'firecracker/base.ext4'), '');
    await truncate(join(imageDir, 'firecracker/base.ext4'), 64 * 1024 * 1024);
    await writeFile(join(dir, 'vmlinux'), 'kernel');
    await mkdir(join(dir, 'mapper'));
    runner = new RecordingRunner(() => vmmPids().length, () => join(dir, 'mapper'));
    binary = await writeFakeFirecrackerBinary(join(dir, 'bin'));
    runtime = makeRuntime();
    await runtime.prepare();
    await runtime.recover();
  });

  after(async () => {
    for (const sandbox of [...(await runtime.list()), ...(await runtime.listPaused())]) await runtime.destroy(sandbox).catch(() => undefined);
    await runtime.shutdown();
    await slots.stop({ removeHostRules: true });
    assert.deepEqual(vmmPids(), [], 'no VMM left');
    assert.deepEqual(pageServerPids(), [], 'no page server left');
    assert.deepEqual(ourNetns(), [], 'no slot left');
    await rm(dir, { recursive: true, force: true });
  });

  it('create: configures the VM through the API in order, then starts it', async () => {
    runner.calls.length = 0; // recovery's look at the loop devices
    const created = await runtime.create({ sandboxId: id, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256 });
    const made = newCalls();
    assert.deepEqual(made.map((c) => `${c.method} ${c.path}`), ['PUT /machine-config', 'PUT /boot-source', 'PUT /drives/rootfs', 'PUT /network-interfaces/eth0', 'PUT /actions']);
    assert.ok(made.every((c) => c.status === 204), JSON.stringify(made));
    assert.deepEqual(made[0].body, { vcpu_count: 2, mem_size_mib: 256, smt: false, track_dirty_pages: true });
    const boot = made[1].body as { boot_args: string; kernel_image_path: string };
    assert.equal(boot.kernel_image_path, '/boot/vmlinux', 'the kernel as bound into the jail');
    assert.match(boot.boot_args, /ip=169\.254\.0\.21::169\.254\.0\.22:255\.255\.255\.252::eth0:off/);
    assert.match(boot.boot_args, new RegExp(`wrenn\\.hostname=${id}`));
    assert.equal((made[2].body as { path_on_host: string }).path_on_host, '/run/wrenn/fc-vm/rootfs.ext4');
    const root = `/proc/${created.pid}/root`;
    assert.equal(statSync(`${root}/boot/vmlinux`).ino, statSync(join(dir, 'vmlinux')).ino, 'the kernel bound in');
    assert.equal(readFileSync(`${root}/run/wrenn/fc-vm/rootfs.ext4`, 'utf8'), 'root drive', "the sandbox's own drive at the stable path");
    assert.notEqual(statSync(`/proc/${created.pid}/status`).uid, 0);
    assert.match(readFileSync(`/proc/${created.pid}/status`, 'utf8'), /^Uid:\t(\d+)\t\1\t\1\t\1$/m);
    assert.doesNotMatch(readFileSync(`/proc/${created.pid}/status`, 'utf8'), /^Uid:\t0\t/m, 'not root');
    assert.match(readFileSync(`/proc/${created.pid}/cgroup`, 'utf8'), new RegExp(`memory:/wrenn-${KEY}/${id}$`, 'm'), 'in its own cgroup');
    assert.equal((made[3].body as { host_dev_name: string }).host_dev_name, 'tap0');
    assert.deepEqual(made[4].body, { action_type: 'InstanceStart' });
    assert.deepEqual(runner.calls.map((c) => c.line.split(' --table')[0].replace(/\/dev\/loop\d+/g, 'LOOP')), [
      `losetup --find --show --read-only ${join(dir, 'images/firecracker/base.ext4')}`,
      `losetup --find --show ${join(sandboxDir(), 'rootfs.cow')}`,
      `dmsetup create wrenn-${KEY}-${id}`,
    ]);
    assert.deepEqual(await runtime.list(), [id]);
    assert.equal(vmmPids().length, 1);
    assert.equal(created.pid, Number(vmmPids()[0]));
    const { envdUrl, accessToken } = await runtime.endpoint(id);
    assert.equal(envdUrls.at(-1), envdUrl);
    assert.equal(ourNetns().length, 1);
    // The booted envd is handed a fresh token once it answers, as E2B's orchestrator does it.
    assert.match(accessToken ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(inits, [[envdUrl, accessToken, undefined]]);
    // Kept in the sandbox's record, which only root can read.
    assert.equal(statSync(join(sandboxDir(), 'meta.json')).mode & 0o777, 0o600);
    assert.equal(statSync(sandboxDir()).mode & 0o777, 0o700);
  });

  it('a create that fails at InstanceStart releases everything it took, VMM before device', async () => {
    const other = `sb_${ulid().toLowerCase()}`;
    await writeFile(join(dir, 'bin/fake-firecracker.faults.json'), JSON.stringify({ 'PUT /actions': 'Start microvm error: simulated' }));
    runner.calls.length = 0;
    try {
      await assert.rejects(runtime.create({ sandboxId: other, teamId: 't', template: 'base', vcpus: 1, memoryMb: 128 }), /simulated/);
    } finally {
      await rm(join(dir, 'bin/fake-firecracker.faults.json'));
    }
    assert.deepEqual(await runtime.list(), [id]);
    assert.equal(vmmPids().length, 1, 'only the first sandbox VMM runs');
    assert.equal(ourNetns().length, 1, 'its slot was released');
    assert.ok(!existsSync(join(dir, 'state/firecracker/sandboxes', other)), 'its directory is gone');
    const dm = runner.calls.filter((c) => c.line.startsWith('dmsetup'));
    assert.deepEqual(dm.map((c) => c.line.split(' ').slice(0, 2).join(' ')), ['dmsetup create', 'dmsetup remove']);
    assert.equal(dm[1].vmms, 1, "its VMM was gone when its device was removed (the first sandbox's runs on)");
    // The origin loop stays: the first sandbox shares it.
    assert.deepEqual(runner.calls.slice(-2).map((c) => c.line.split(' ').slice(0, 2).join(' ')), ['dmsetup remove', 'losetup --detach']);
    await assert.rejects(runtime.create({ sandboxId: other, teamId: 't', template: 'base', vcpus: 3, memoryMb: 128 }), /1 or an even number of vcpus/);
    await assert.rejects(runtime.create({ sandboxId: other, teamId: 't', template: 'nope', vcpus: 1, memoryMb: 128 }), /has no image/);
  });

  it('pause: Paused, Full snapshot, then the VMM, device and slot are freed (VMM first)', async () => {
    runner.calls.length = 0;
    const paused = await runtime.pause(id);
    assert.deepEqual(newCalls().map((c) => `${c.method} ${c.path} ${JSON.stringify(c.body)}`.replace(new RegExp(sandboxDir(), 'g'), 'D').replace(/\.[0-9a-z]{26}"/g, '.ID"')), [
      'PATCH /vm {"state":"Paused"}',
      'PUT /snapshot/create {"snapshot_path":"/out/vmstate.ID","mem_file_path":"/out/memfile.ID","snapshot_type":"Full"}',
    ]);
    // Written by the VMM in its jail, moved out of its reach and made root's.
    assert.deepEqual(readdirSync(join(sandboxDir(), 'jail/out')), []);
    for (const f of readdirSync(join(sandboxDir(), 'snapshot'))) assert.equal(statSync(join(sandboxDir(), 'snapshot', f)).uid, 0, f);
    assert.deepEqual(vmmPids(), [], 'VMM gone');
    const remove = runner.calls.find((c) => c.line.startsWith('dmsetup remove'));
    assert.equal(remove?.vmms, 0, 'the device is removed only after the VMM is gone');
    assert.deepEqual(ourNetns(), [], 'slot released');
    assert.deepEqual(await runtime.list(), []);
    assert.deepEqual(await runtime.listPaused(), [id]);
    const buildId = paused.snapshotRef.split('/')[1];
    const header = await readHeaderFile(join(sandboxDir(), 'snapshot', headerFileName(buildId)));
    assert.deepEqual(header.generations, [buildId]);
    assert.equal(header.sizeBytes, 256 * 1024 * 1024);
    assert.ok(existsSync(join(sandboxDir(), 'rootfs.cow')), 'the CoW file is kept');
    assert.ok(paused.sizeBytes > 0);
    (globalThis as { ref?: string }).ref = paused.snapshotRef;
  });

  it('resume: a new VMM on a new slot loads the snapshot with the Uffd backend and resumes', async () => {
    runner.calls.length = 0;
    const ref = (globalThis as { ref?: string }).ref!;
    const initsBefore = inits.length;
    const tokenBefore = JSON.parse(readFileSync(join(sandboxDir(), 'meta.json'), 'utf8')).envdAccessToken as string;
    const resumed = await runtime.resume({ sandboxId: id, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256 }, ref);
    // The resumed envd holds its token in its memory: the same one, nothing handed over again.
    assert.equal(inits.length, initsBefore);
    assert.equal((await runtime.endpoint(id)).accessToken, tokenBefore);
    const made = newCalls();
    assert.deepEqual(made.map((c) => `${c.method} ${c.path}`), ['PUT /snapshot/load'], 'nothing configured before the load');
    assert.deepEqual(made[0].body, {
      snapshot_path: '/snapshot/vmstate',
      mem_backend: { backend_type: 'Uffd', backend_path: '/uffd.sock' },
      track_dirty_pages: true,
      resume_vm: true,
      ...(process.arch === 'x64' ? { clock_realtime: true } : {}),
    });
    assert.equal(made[0].status, 204);
    // Both bound into the jail: the snapshot's vmstate (read-only) and the page server's socket.
    assert.equal(statSync(`/proc/${resumed.pid}/root/snapshot/vmstate`).ino, statSync(join(sandboxDir(), 'snapshot', `vmstate.${ref.split('/')[1]}`)).ino);
    assert.equal(statSync(`/proc/${resumed.pid}/root/uffd.sock`).ino, statSync(join(sandboxDir(), 'uffd.sock')).ino);
    assert.deepEqual(runner.calls.map((c) => c.line.split(' ')[0] + ' ' + c.line.split(' ')[1]), ['losetup --find', 'losetup --find', 'dmsetup create']);
    assert.deepEqual(await runtime.list(), [id]);
    assert.equal(ourNetns().length, 1);
    const state = await new FirecrackerClient(join(sandboxDir(), 'jail/api/fc.sock')).describe();
    assert.equal(state.state, 'Running');
  });

  it('re-pause of a resumed sandbox writes a Diff on its chain', async () => {
    const paused = await runtime.pause(id);
    assert.deepEqual(newCalls().map((c) => `${c.method} ${c.path} ${(c.body as { snapshot_type?: string }).snapshot_type ?? (c.body as { state?: string }).state}`), ['PATCH /vm Paused', 'PUT /snapshot/create Diff']);
    const header = await readHeaderFile(join(sandboxDir(), 'snapshot', headerFileName(paused.snapshotRef.split('/')[1])));
    assert.equal(header.generations.length, 2);
    const files = readdirSync(join(sandboxDir(), 'snapshot')).sort();
    assert.equal(files.filter((f) => f.startsWith('memfile.')).length, 2, 'both generations are kept');
    assert.equal(files.filter((f) => f.startsWith('vmstate.')).length, 1, 'only the newest vmstate');
    (globalThis as { ref?: string }).ref = paused.snapshotRef;
  });

  it('a failed resume leaves the paused state intact and releases what it took; a retry succeeds', async () => {
    const ref = (globalThis as { ref?: string }).ref!;
    const before = readdirSync(join(sandboxDir(), 'snapshot')).sort();
    const meta = readFileSync(join(sandboxDir(), 'meta.json'), 'utf8');
    await faults({ 'PUT /snapshot/load': 'Load snapshot error: simulated' });
    runner.calls.length = 0;
    await assert.rejects(runtime.resume({ sandboxId: id, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256 }, ref), /simulated/);
    assert.deepEqual(newCalls().map((c) => `${c.method} ${c.path} ${c.status}`), ['PUT /snapshot/load 400']);
    assert.deepEqual(readdirSync(join(sandboxDir(), 'snapshot')).sort(), before, 'snapshot files untouched');
    assert.equal(readFileSync(join(sandboxDir(), 'meta.json'), 'utf8'), meta, 'record untouched');
    assert.deepEqual(await runtime.listPaused(), [id]);
    assert.deepEqual(vmmPids(), [], 'the VMM it launched is gone');
    assert.deepEqual(ourNetns(), [], 'the slot it took is released');
    assert.ok(!existsSync(join(sandboxDir(), 'uffd.sock')), 'the page server is stopped');
    assert.deepEqual(runner.calls.filter((c) => c.line.startsWith('dmsetup')).map((c) => c.line.split(' ').slice(0, 2).join(' ')), ['dmsetup create', 'dmsetup remove']);

    await faults({});
    await runtime.resume({ sandboxId: id, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256 }, ref);
    assert.deepEqual(newCalls().map((c) => `${c.method} ${c.path} ${c.status}`), ['PUT /snapshot/load 204']);
    assert.deepEqual(await runtime.list(), [id]);
  });

  it('a failed pause resumes the vCPUs, keeps the VM running, and makes the next pause a Full', async () => {
    const snapshotsBefore = readdirSync(join(sandboxDir(), 'snapshot')).sort();
    await faults({ 'PUT /snapshot/create': 'Create snapshot error: No space left on device' });
    await assert.rejects(runtime.pause(id), /No space left/);
    assert.deepEqual(newCalls().map((c) => `${c.method} ${c.path} ${c.status} ${(c.body as { state?: string }).state ?? ''}`.trim()), [
      'PATCH /vm 204 Paused',
      'PUT /snapshot/create 400',
      'PATCH /vm 204 Resumed',
    ]);
    assert.deepEqual(await runtime.list(), [id], 'still running');
    assert.equal((await new FirecrackerClient(join(sandboxDir(), 'jail/api/fc.sock')).describe()).state, 'Running');
    assert.deepEqual(readdirSync(join(sandboxDir(), 'snapshot')).sort(), snapshotsBefore, 'no partial snapshot files');
    assert.equal(ourNetns().length, 1);

    await faults({});
    const paused = await runtime.pause(id);
    assert.deepEqual(newCalls().map((c) => (c.body as { snapshot_type?: string }).snapshot_type ?? (c.body as { state?: string }).state), ['Paused', 'Full']);
    const header = await readHeaderFile(join(sandboxDir(), 'snapshot', headerFileName(paused.snapshotRef.split('/')[1])));
    assert.equal(header.generations.length, 1, 'a new chain');
    assert.equal(readdirSync(join(sandboxDir(), 'snapshot')).filter((f) => f.startsWith('memfile.')).length, 1, 'the old chain is removed');
    (globalThis as { ref?: string }).ref = paused.snapshotRef;
  });

  it(`after ${MAX_GENERATIONS} generations the next pause is a Full again`, async () => {
    const types: string[] = [];
    let ref = (globalThis as { ref?: string }).ref!;
    for (let i = 0; i < MAX_GENERATIONS; i++) {
      await runtime.resume({ sandboxId: id, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256 }, ref);
      ref = (await runtime.pause(id)).snapshotRef;
      types.push(...newCalls().filter((c) => c.path === '/snapshot/create').map((c) => (c.body as { snapshot_type: string }).snapshot_type));
    }
    assert.deepEqual(types, [...Array(MAX_GENERATIONS - 1).fill('Diff'), 'Full']);
    (globalThis as { ref?: string }).ref = ref;
  });

  it('a template is a Full snapshot plus the flattened root drive; a sandbox starts from it by loading it', async () => {
    await runtime.resume({ sandboxId: id, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256 }, (globalThis as { ref?: string }).ref!);
    newCalls();
    runner.calls.length = 0;
    const templateId = `tpl_${ulid().toLowerCase()}`;
    const t = await runtime.createTemplate(id, templateId);
    const templateDir = join(dir, 'state/firecracker/templates', templateId);
    assert.deepEqual(newCalls().map((c) => `${c.method} ${c.path} ${(c.body as { snapshot_type?: string }).snapshot_type ?? (c.body as { state?: string }).state}`), [
      'PATCH /vm Paused',
      'PUT /snapshot/create Full',
      'PATCH /vm Resumed',
    ]);
    assert.equal(runner.calls.length, 1);
    assert.match(runner.calls[0].line, new RegExp(`^cp --sparse=always ${dir}/mapper/wrenn-${KEY}-${id} .*/rootfs\\.ext4$`));
    assert.ok(t.sizeBytes > 0);
    assert.ok(existsSync(join(templateDir, 'rootfs.ext4')) && existsSync(join(templateDir, 'template.json')));
    assert.deepEqual(await runtime.list(), [id], 'the source keeps running');

    const child = `sb_${ulid().toLowerCase()}`;
    const childVm = await runtime.create({ sandboxId: child, teamId: 't', template: 'base', templateId, vcpus: 2, memoryMb: 256 });
    const childCalls = calls(child);
    assert.deepEqual(childCalls.map((c) => `${c.method} ${c.path}`), ['PUT /snapshot/load']);
    assert.equal((childCalls[0].body as { mem_backend: { backend_type: string } }).mem_backend.backend_type, 'Uffd');
    const templateVmstate = readdirSync(templateDir).find((f) => f.startsWith('vmstate.'))!;
    assert.equal(statSync(`/proc/${childVm.pid}/root/snapshot/vmstate`).ino, statSync(join(templateDir, templateVmstate)).ino, "the template's vmstate is bound into the child's jail");
    assert.equal(identities.length, 1, 'the new sandbox is given its own identity');
    assert.equal(identities[0][1], child);
    const childEnvd = await runtime.endpoint(child);
    assert.equal(identities[0][0], childEnvd.envdUrl);
    // The template's memory holds the source's envd with the source's token: the child's envd
    // is moved to a token of its own with it, before anything else is asked of it.
    const sourceToken = (await runtime.endpoint(id)).accessToken;
    assert.ok(childEnvd.accessToken && sourceToken && childEnvd.accessToken !== sourceToken);
    assert.deepEqual(inits.at(-1), [childEnvd.envdUrl, childEnvd.accessToken, sourceToken]);
    assert.equal(identities[0][3], childEnvd.accessToken);
    assert.equal(statSync(join(templateDir, 'template.json')).mode & 0o777, 0o600);
    await assert.rejects(runtime.create({ sandboxId: `sb_${ulid().toLowerCase()}`, teamId: 't', template: 'base', templateId, vcpus: 1, memoryMb: 256 }), /runs with 2 vcpus/);
    await runtime.destroy(child);
    await runtime.deleteTemplate(templateId);
    assert.ok(!existsSync(templateDir));
  });

  it('after an agent restart VMs are re-adopted (a restored one with its page server); one whose page server died returns to its last snapshot; half-made ones go', async () => {
    const spec2 = { sandboxId: `sb_${ulid().toLowerCase()}`, teamId: 't', template: 'base', vcpus: 1, memoryMb: 128 };
    await runtime.create(spec2);
    const booted = `sb_${ulid().toLowerCase()}`;
    await runtime.create({ sandboxId: booted, teamId: 't', template: 'base', vcpus: 1, memoryMb: 128 });
    // spec2 is restored from its snapshot, so its memory comes from a page server process.
    await runtime.resume(spec2, (await runtime.pause(spec2.sandboxId)).snapshotRef);
    const half = `sb_${ulid().toLowerCase()}`;
    await mkdir(join(dir, 'state/firecracker/sandboxes', half));
    const metaOf = (sb: string) => JSON.parse(readFileSync(join(dir, 'state/firecracker/sandboxes', sb, 'meta.json'), 'utf8')) as { vmm: { pid: number }; pageServer: { pid: number } };
    const restoredServer = metaOf(spec2.sandboxId).pageServer.pid;
    // The page server of `id` dies with the agent (as an in-agent one would); spec2's survives.
    const dying = metaOf(id).pageServer.pid;
    // Resumed a test ago, however long that took: a restored VM's page server serves while its VM runs.
    assert.ok(!(await isZombieOrGone(dying)), "the page server of a running restored VM is alive");
    signal(dying, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (existsSync(`/proc/${dying}/stat`) && !readFileSync(`/proc/${dying}/stat`, 'utf8').includes(') Z') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(await runtime.list(), [id, booted, spec2.sandboxId].sort());
    await runtime.shutdown();
    runtime = makeRuntime();
    const report = await runtime.recover();
    assert.deepEqual(report, { adopted: [booted, spec2.sandboxId].sort(), removed: [half] });
    assert.deepEqual(await runtime.list(), [booted, spec2.sandboxId].sort());
    assert.deepEqual(await runtime.listPaused(), [id], 'without its page server it is back to its snapshot');
    assert.ok(existsSync(`/proc/${restoredServer}`), 'the adopted page server keeps serving');
    assert.equal(vmmPids().length, 2, 'the VMM without a page server was stopped');
    assert.equal(ourNetns().length, 2, 'only the adopted slots are kept');
    assert.ok(!existsSync(join(dir, 'state/firecracker/sandboxes', half)));
    // An adopted restored VM pauses again (a Full: the new agent cannot trust the old dirty log).
    const paused = await runtime.pause(spec2.sandboxId);
    assert.deepEqual(calls(spec2.sandboxId).filter((c) => c.path === '/snapshot/create').map((c) => (c.body as { snapshot_type: string }).snapshot_type), ['Full', 'Full']);
    assert.ok(!existsSync(`/proc/${restoredServer}/cmdline`) || !readFileSync(`/proc/${restoredServer}/cmdline`, 'utf8').includes('page-server'), 'its page server is gone with its VM');
    await runtime.destroy(spec2.sandboxId);
    await runtime.destroy(booted);
    void paused;
    // The paused one resumes from its last snapshot on the new agent.
    const meta = JSON.parse(readFileSync(join(sandboxDir(), 'meta.json'), 'utf8')) as { snapshot: { buildId: string } };
    await runtime.resume({ sandboxId: id, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256 }, `${id}/${meta.snapshot.buildId}`);
    assert.deepEqual(await runtime.list(), [id]);
  });

  it('destroy: VMM first, then the device, the CoW file and the slot; nothing is left', async () => {
    // Its page server has exited already (as one does when its VM hangs up): gone is stopped.
    const server = (JSON.parse(readFileSync(join(sandboxDir(), 'meta.json'), 'utf8')) as { pageServer: { pid: number } }).pageServer.pid;
    signal(server, 'SIGKILL');
    for (const deadline = Date.now() + 5000; !(await isZombieOrGone(server)) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    runner.calls.length = 0;
    await runtime.destroy(id);
    assert.deepEqual(vmmPids(), []);
    const remove = runner.calls.find((c) => c.line.startsWith('dmsetup remove'));
    assert.equal(remove?.vmms, 0, 'the device is removed only after the VMM is gone');
    assert.ok(!existsSync(sandboxDir()));
    assert.deepEqual(ourNetns(), []);
    assert.deepEqual(await runtime.listPaused(), []);
    await runtime.destroy(id); // gone already: fine
  });
});

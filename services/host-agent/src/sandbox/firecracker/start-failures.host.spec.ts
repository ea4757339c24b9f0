import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupManager } from '../../cgroups';
import { addGuestTap, NetworkManager, SlotTapNetworks, unusedSlotCidr } from '../../networking';
import { DmSnapshotStore } from '../../rootfs/dm-snapshot.store';
import { MemorySnapshots } from '../../runtime/firecracker/memory-snapshots';
import { describeStartFailures, fakeFirecrackerRuntimeDirs, RecordingRunner, SPEC_MISSING, writeFakeFirecrackerBinary } from '@wrenn/host-agent-test-support';
import { FirecrackerRuntime as FirecrackerSandboxes } from './firecracker-sandboxes';

/**
 * The Firecracker driver against the stand-in VMM (the fake API server as a jailed process in
 * real slots with the guest TAP), the real page server, and device-mapper on a recording runner
 * whose devices are files in the state dir (this kernel has no device-mapper). No guest boots:
 * envd's health is taken as given.
 */
describeStartFailures(
  'firecracker driver (stand-in VMM): a failure at every start (and undoable pause) step leaks nothing (root, kernel)',
  async (failures) => {
    const agentKey = `j${Math.random().toString(36).slice(2, 6)}`;
    // Short: the VMM's API socket lives below it, and a Unix socket path has 107 bytes.
    const dir = await mkdtemp(join(tmpdir(), 'wrenn-fcsf-'));
    const stateDir = join(dir, 'state');
    const imageDir = join(dir, 'images');
    await mkdir(join(imageDir, 'firecracker'), { recursive: true });
    await writeFile(join(imageDir, 'firecracker/base.ext4'), '');
    await truncate(join(imageDir, 'firecracker/base.ext4'), 64 * 1024 * 1024);
    await writeFile(join(dir, 'vmlinux'), 'kernel');
    // Device nodes "made" by the recording runner live in the state dir: compared with its files.
    const mapper = join(stateDir, 'mapper');
    await mkdir(mapper, { recursive: true });
    // Made on the first range taken: there from the start, so only the ranges in it are compared.
    await mkdir(join(stateDir, 'id-ranges'), { recursive: true });
    const runner = new RecordingRunner(() => 0, () => mapper);
    const binary = await writeFakeFirecrackerBinary(join(dir, 'bin'));
    const slots = new NetworkManager({ agentKey, cidr: unusedSlotCidr(213), poolSize: 0, prepareSlot: addGuestTap });
    const cgroups = new CgroupManager({ group: `wrenn-${agentKey}` });
    const runtime = new FirecrackerSandboxes({
      stateDir,
      imageDir,
      binary,
      kernelPath: join(dir, 'vmlinux'),
      network: new SlotTapNetworks(slots, true),
      rootfs: new DmSnapshotStore({ namePrefix: `wrenn-${agentKey}-`, runner, deviceDir: mapper }),
      memory: new MemorySnapshots(),
      stableDir: '/run/wrenn/fc-vm',
      cgroups,
      idRangesDir: join(stateDir, 'id-ranges'),
      vmmRuntimeDirs: fakeFirecrackerRuntimeDirs(join(dir, 'bin')),
      waitForEnvd: async () => undefined,
      setIdentity: async () => undefined,
      initEnvd: async () => undefined,
      checkpoint: (step) => failures.hook(step),
    });
    await runtime.prepare();
    await runtime.recover();
    return {
      runtime,
      agentKey,
      stateDir,
      spec: (sandboxId) => ({ sandboxId, teamId: 't', template: 'base', vcpus: 1, memoryMb: 256 }),
      // The jail's mount-point skeleton (made by the helper at each launch, empty on the host) and
      // the page server's log, in the paused VM's own dir.
      scratchFiles: /^firecracker\/sandboxes\/sb_[a-z0-9]+\/(jail\/|page-server\.log$)/,
      close: async () => {
        for (const id of [...(await runtime.list()), ...(await runtime.listPaused())]) await runtime.destroy(id).catch(() => undefined);
        await runtime.shutdown();
        await slots.stop({ removeHostRules: true });
        await cgroups.removeGroup().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { skip: SPEC_MISSING },
);

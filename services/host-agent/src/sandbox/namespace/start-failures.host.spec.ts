import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CgroupManager } from '../../cgroups';
import { NetworkManager, unusedSlotCidr } from '../../networking';
import { describeStartFailures } from '@wrenn/host-agent-test-support';
import { NamespaceRuntime } from './namespace-sandboxes';

const IMAGE_DIR = process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images';

describeStartFailures('namespace driver: a failure at every start (and undoable pause) step leaks nothing (root, kernel)', async (failures) => {
  const agentKey = `i${Math.random().toString(36).slice(2, 6)}`;
  const stateDir = await mkdtemp('/tmp/wrenn-nssf-');
  // Made on the first range taken: there from the start, so only the ranges in it are compared.
  await mkdir(join(stateDir, 'id-ranges'), { recursive: true });
  // No pool: a slot is built on acquire and torn down on release, so the host shows each.
  const network = new NetworkManager({ agentKey, cidr: unusedSlotCidr(211), poolSize: 0 });
  const cgroups = new CgroupManager({ group: `wrenn-${agentKey}` });
  const runtime = new NamespaceRuntime({
    stateDir,
    imageDir: IMAGE_DIR,
    network,
    cgroups,
    idRangesDir: join(stateDir, 'id-ranges'),
    envdHost: {},
    checkpoint: (step) => failures.hook(step),
  });
  await runtime.prepare();
  await runtime.recover();
  return {
    runtime,
    agentKey,
    stateDir,
    spec: (sandboxId) => ({ sandboxId, teamId: 't', template: 'base', vcpus: 1, memoryMb: 128 }),
    // Its processes are killed before its disk is moved into the snapshot.
    finalPauseStep: 'snapshot disk',
    close: async () => {
      for (const id of [...(await runtime.list()), ...(await runtime.listPaused())]) await runtime.destroy(id).catch(() => undefined);
      await runtime.shutdown();
      await network.stop({ removeHostRules: true });
      await cgroups.removeGroup().catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
});

import { childEnvironment, WrennConfig } from '@wrenn/config';
import type { Logger } from '@wrenn/logger';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { CgroupManager } from '../cgroups';
import { addGuestTap, agentKeyFor, NetworkManager } from '../networking';
import { DmSnapshotStore } from '../rootfs/dm-snapshot.store';
import { FirecrackerRuntime } from '../sandbox/firecracker/firecracker-sandboxes';
import { SlotTapNetworks } from '../networking';
import { NamespaceRuntime } from '../sandbox/namespace/namespace-sandboxes';
import { SandboxRuntime } from './sandbox-runtime';
import { HostProbe, realHostProbe, selectRuntime } from './select-runtime';

/** services/envd/bundle: envd.js built by `npm run build`. */
const ENVD_BUNDLE_DIR = resolve(__dirname, '../../../envd/bundle');
const FC_IMAGE_RECIPE = resolve(__dirname, '../../../../images/firecracker/build.sh');

export function createRuntime(config: WrennConfig, log: Logger, probe: HostProbe = realHostProbe): SandboxRuntime {
  return createRuntimeAndNetwork(config, log, probe).runtime;
}

/**
 * The runtime and the network manager of its slots (which also enforces the sandboxes' egress
 * policies). WRENN_EGRESS_ALLOW: the operator's allowlist, comma-separated CIDRs or domain
 * names every sandbox may reach even in private ranges (a package mirror, say).
 */
export function createRuntimeAndNetwork(config: WrennConfig, log: Logger, probe: HostProbe = realHostProbe): { runtime: SandboxRuntime; network: NetworkManager } {
  const agentKey = agentKeyFor(config.host.id);
  const choice = selectRuntime(config.host, probe);
  log.info({ runtime: choice.kind, configured: config.host.runtime, reason: choice.reason }, `runtime: ${choice.kind}`);
  // A microVM's slot also holds its TAP: built with the slot, so pooled slots are ready at once.
  const network = new NetworkManager({
    agentKey,
    cidr: config.host.netCidr,
    poolSize: config.host.netPoolSize,
    logger: log,
    prepareSlot: choice.kind === 'firecracker' ? addGuestTap : undefined,
    operatorAllowOut: config.host.egressAllow,
  });
  return { runtime: runtimeFor(choice, config, log, agentKey, network), network };
}

function runtimeFor(choice: ReturnType<typeof selectRuntime>, config: WrennConfig, log: Logger, agentKey: string, network: NetworkManager): SandboxRuntime {
  switch (choice.kind) {
    case 'namespace':
      return new NamespaceRuntime({
        stateDir: config.host.stateDir,
        imageDir: config.host.imageDir,
        logger: log,
        network,
        cgroups: new CgroupManager({ group: `wrenn-${agentKey}` }),
        pidsMax: config.host.sandboxPidsMax,
        diskMb: config.host.sandboxDiskMb,
        ...(config.host.sandboxIdBase !== undefined ? { idBase: config.host.sandboxIdBase } : {}),
        warmPoolSize: config.host.warmPoolSize,
        warmPool: config.host.warmPool,
        diskPoolSize: config.host.diskPoolSize,
        // One envd in this process for every sandbox, reaching into each through its init: the
        // sandboxes run no Node of their own.
        envdHost: {},
      });
    case 'firecracker':
      return new FirecrackerRuntime({
        stateDir: config.host.stateDir,
        imageDir: config.host.imageDir,
        binary: choice.binary!,
        kernelPath: choice.kernel!,
        network: new SlotTapNetworks(network, true),
        rootfs: new DmSnapshotStore({ namePrefix: `wrenn-${agentKey}-` }),
        stableDir: config.host.firecracker.stableDir,
        cgroups: new CgroupManager({ group: `wrenn-${agentKey}` }),
        ...(config.host.sandboxIdBase !== undefined ? { idBase: config.host.sandboxIdBase } : {}),
        cowSizeBytes: config.host.firecracker.cowSizeMb * 1024 * 1024,
        logger: log,
        // The guest carries its own copy of the agent's Node binary and envd bundle.
        buildImage: (_template, target) => runRecipe(FC_IMAGE_RECIPE, target, { WRENN_ENVD_BUNDLE: ENVD_BUNDLE_DIR, WRENN_NODE_BINARY: process.execPath }),
      });
  }
}

function runRecipe(recipe: string, target: string, env: Record<string, string>): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [recipe, target], { stdio: ['ignore', 'ignore', 'pipe'], env: childEnvironment(env) });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`${recipe} failed (${code}): ${err}`))));
  });
}

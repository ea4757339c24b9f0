import { WrennConfig } from '@wrenn/config';
import type { Logger } from '@wrenn/logger';
import { CgroupManager } from '../cgroups';
import { agentKeyFor, NetworkManager } from '../networking';
import { NamespaceRuntime } from './namespace/namespace.runtime';
import { SandboxRuntime } from './sandbox-runtime';
import { resolve } from 'node:path';

/** services/envd/bundle: envd.js built by `npm run build`. */
const ENVD_BUNDLE_DIR = resolve(__dirname, '../../../envd/bundle');

export function createRuntime(config: WrennConfig, log: Logger): SandboxRuntime {
  const agentKey = agentKeyFor(config.host.id);
  switch (config.host.runtime) {
    case 'namespace':
      return new NamespaceRuntime({
        stateDir: config.host.stateDir,
        imageDir: config.host.imageDir,
        logger: log,
        network: new NetworkManager({ agentKey, cidr: process.env.WRENN_NET_CIDR, poolSize: Number(process.env.WRENN_NET_POOL_SIZE ?? 4), logger: log }),
        cgroups: new CgroupManager({ group: `wrenn-${agentKey}` }),
        pidsMax: Number(process.env.WRENN_SANDBOX_PIDS_MAX ?? 1024),
        warmPoolSize: Number(process.env.WRENN_WARM_POOL_SIZE ?? 2),
        // The agent's own Node binary runs envd inside sandboxes (bound read-only).
        envd: { nodeBinary: process.execPath, bundleDir: ENVD_BUNDLE_DIR },
      });
    case 'firecracker':
      throw new Error('the firecracker runtime is not available in this build');
  }
}

import { WrennConfig } from '@wrenn/config';
import type { Logger } from '@wrenn/logger';
import { NamespaceRuntime } from './namespace/namespace.runtime';
import { SandboxRuntime } from './sandbox-runtime';

export function createRuntime(config: WrennConfig, log: Logger): SandboxRuntime {
  switch (config.host.runtime) {
    case 'namespace':
      return new NamespaceRuntime({ stateDir: config.host.stateDir, imageDir: config.host.imageDir, logger: log });
    case 'firecracker':
      throw new Error('the firecracker runtime is not available in this build');
  }
}

import { addGuestTap } from './guest-tap';
import { SandboxNetwork } from './network-slot';
import { NetworkManager } from './network.manager';

/** The networks VMs get: a slot of the agent's pool with the guest TAP added. */
export interface VmNetworks {
  /** The agent's key (names its slots and its id-range files). */
  readonly agentKey: string;
  acquire(): Promise<SandboxNetwork>;
  /** Tears the slot down (TAP and translation go with its netns). Idempotent. */
  release(index: number): Promise<void>;
  /** Nameservers a guest should use (passed on the kernel command line). */
  nameservers(): string[];
  start(): Promise<void>;
  recover(inUse: number[]): Promise<unknown>;
  stop(options?: { removeHostRules?: boolean }): Promise<void>;
}

/**
 * Slots from the namespace runtime's manager (same allocator, pool, firewall), plus `tap0`:
 * added as each slot is built when the manager was made with `prepareSlot: addGuestTap` (so
 * pooled slots come with it), else on acquire.
 */
export class SlotTapNetworks implements VmNetworks {
  constructor(private readonly slots: NetworkManager, private readonly tapOnBuild = false) {}

  get agentKey(): string {
    return this.slots.agentKey;
  }

  async acquire(): Promise<SandboxNetwork> {
    const net = await this.slots.acquire();
    if (this.tapOnBuild) return net;
    try {
      await addGuestTap(net);
      return net;
    } catch (error) {
      await this.slots.release(net.index).catch(() => undefined);
      throw error;
    }
  }

  release(index: number): Promise<void> {
    return this.slots.release(index);
  }

  nameservers(): string[] {
    return this.slots
      .resolvConf()
      .split('\n')
      .map((line) => /^nameserver\s+(\S+)/.exec(line)?.[1])
      .filter((ip): ip is string => !!ip);
  }

  start(): Promise<void> {
    return this.slots.start();
  }

  recover(inUse: number[]): Promise<unknown> {
    return this.slots.recover(inUse);
  }

  stop(options?: { removeHostRules?: boolean }): Promise<void> {
    return this.slots.stop(options);
  }
}

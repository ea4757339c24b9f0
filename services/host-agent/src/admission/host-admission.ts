import { admit, ErrorCode, HostCapacity, HostMemory, HostReport, PendingOnHost, WrennError } from '@wrenn/contracts';
import type { Usage } from '../sandbox/sandbox-orchestrator';
import { MachineMemory, readMachineMemory } from '../metrics/machine-memory';

export interface AdmissionRules {
  hostId: string;
  capacity: HostCapacity;
  /** Kept free of real use (MiB). */
  reserveMb: number;
  /** Requested memory may add up to (total − reserve) × this. */
  overcommit: number;
  /** Real memory a sandbox being created is counted at (MiB). */
  perSandboxMb: number;
  /** What this host's sandboxes asked for (the orchestrator's tally). */
  usage: () => Usage;
  readMemory?: () => MachineMemory;
}

/**
 * The host's own last word on admission. The scheduler places on heartbeats, which are up to an
 * interval old and blind to other schedulers' placements; here the check runs again on fresh
 * figures, counting the creates already under way, and a host that is full refuses with 503
 * host_full (details.resource) before doing any work, so the scheduler can try the next host.
 * Also the source of the memory figures the heartbeat reports.
 */
export class HostAdmission {
  private readonly starting: PendingOnHost = { sandboxes: 0, memoryMb: 0 };

  constructor(private readonly rules: AdmissionRules) {}

  /**
   * Memory as the heartbeat reports it and admission reads it; undefined when the machine's figures
   * cannot be read, and admission then holds the host to its requested memory, as for an older agent.
   */
  memory(): HostMemory | undefined {
    let machine: MachineMemory;
    try {
      machine = (this.rules.readMemory ?? readMachineMemory)();
    } catch {
      return undefined;
    }
    return {
      totalMb: machine.totalMb,
      usedMb: machine.usedMb,
      reserveMb: this.rules.reserveMb,
      overcommit: this.rules.overcommit,
      perSandboxMb: this.rules.perSandboxMb,
    };
  }

  /** What the host reports now, with the creates under way added to its tally. */
  private report(): HostReport {
    const memory = this.memory();
    return { hostId: this.rules.hostId, capacity: this.rules.capacity, used: this.rules.usage(), ...(memory ? { memory } : {}) };
  }

  /** Creates under way on this host (admitted, not yet in the orchestrator's tally). */
  underWay(): PendingOnHost {
    return { ...this.starting };
  }

  /**
   * Runs `work` (a create or a resume) if the host admits a sandbox asking `memoryMb`, counting it
   * as under way until it ends; otherwise throws host_full and runs nothing.
   */
  async admitting<T>(request: { memoryMb: number }, work: () => Promise<T>): Promise<T> {
    const verdict = admit(this.report(), this.starting, request);
    if (!verdict.admitted) throw new WrennError(ErrorCode.HostFull, verdict.reason, { resource: verdict.resource, host_id: this.rules.hostId });
    this.starting.sandboxes += 1;
    this.starting.memoryMb += request.memoryMb;
    try {
      return await work();
    } finally {
      this.starting.sandboxes -= 1;
      this.starting.memoryMb -= request.memoryMb;
    }
  }
}

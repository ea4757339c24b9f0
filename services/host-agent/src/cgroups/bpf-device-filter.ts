import type { DeviceFilter } from './device-filter';
import { DeviceRule, parseDeviceRule } from './device-rule';

/** The part of the native addon (native/src/device-filter.cc) this filter calls. */
interface DeviceFilterAddon {
  /** Loads the rules as a BPF_CGROUP_DEVICE program, attaches it to the group; returns the program's id. Throws with `code` (errno name) and `syscall`. */
  attachDeviceFilter(cgroupDir: string, rules: DeviceRule[]): number;
}

/**
 * The cgroup v2 device allowlist: a BPF_PROG_TYPE_CGROUP_DEVICE program, generated from the rules
 * and attached (bpf(2), through the native addon) to the group, where it answers for the group and
 * every group below it. Node cannot call bpf(2) itself. Attach before any process joins the group:
 * a device opened earlier stays open. The program lives as long as the group: removing the group
 * frees it, so there is nothing to detach.
 */
export class BpfDeviceFilter implements DeviceFilter {
  private addon: DeviceFilterAddon | undefined;

  async attach(dir: string, rules: readonly string[]): Promise<void> {
    const parsed = rules.map(parseDeviceRule);
    // Loaded on first use: a host that never makes a v2 sandbox needs no addon for it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.addon ??= require('@wrenn/native') as DeviceFilterAddon;
    this.addon.attachDeviceFilter(dir, parsed);
  }
}

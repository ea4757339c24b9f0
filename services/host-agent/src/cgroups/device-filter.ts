/**
 * Restricts the devices a cgroup v2 subtree may open. v2 has no devices.allow file: the kernel
 * asks a BPF_CGROUP_DEVICE program attached to the group instead.
 */
export interface DeviceFilter {
  /** Lets the processes of the group at `dir` (and its descendants) open only `rules` ("c 1:3 rwm", v1 syntax). */
  attach(dir: string, rules: readonly string[]): Promise<void>;
}

/**
 * The part of Firecracker's HTTP API (v1.16.1, pinned in shared/fixtures/firecracker) this
 * runtime speaks, as TypeScript types. Field names are the wire names; optional fields are
 * optional on the wire. The contract test checks every request against the spec itself.
 */

export interface BootSource {
  kernel_image_path: string;
  boot_args?: string;
  initrd_path?: string;
}

export interface Drive {
  drive_id: string;
  is_root_device: boolean;
  path_on_host?: string;
  is_read_only?: boolean;
  cache_type?: 'Unsafe' | 'Writeback';
  io_engine?: 'Sync' | 'Async';
  partuuid?: string;
}

export interface NetworkInterface {
  iface_id: string;
  host_dev_name: string;
  guest_mac?: string;
  mtu?: number;
}

export interface MachineConfiguration {
  vcpu_count: number;
  mem_size_mib: number;
  smt?: boolean;
  /** Needed for Diff snapshots: only pages dirtied since the last snapshot are written. */
  track_dirty_pages?: boolean;
  huge_pages?: 'None' | '2M';
}

export interface InstanceActionInfo {
  action_type: 'FlushMetrics' | 'InstanceStart' | 'SendCtrlAltDel';
}

export const VmState = { Paused: 'Paused', Resumed: 'Resumed' } as const;
export type VmState = (typeof VmState)[keyof typeof VmState];

export interface Vm {
  state: VmState;
}

export const SnapshotType = { Full: 'Full', Diff: 'Diff' } as const;
export type SnapshotType = (typeof SnapshotType)[keyof typeof SnapshotType];

export interface SnapshotCreateParams {
  snapshot_path: string;
  mem_file_path: string;
  snapshot_type?: SnapshotType;
}

export interface MemoryBackend {
  backend_type: 'File' | 'Uffd';
  /** For Uffd: the Unix socket where the page server waits for Firecracker's handshake. */
  backend_path: string;
}

export interface SnapshotLoadParams {
  snapshot_path: string;
  mem_backend?: MemoryBackend;
  track_dirty_pages?: boolean;
  resume_vm?: boolean;
  network_overrides?: Array<{ iface_id: string; host_dev_name: string }>;
  /** x86_64 only: advance the guest's kvmclock by the wall time that passed since the snapshot. */
  clock_realtime?: boolean;
}

/** Firecracker's error body. */
export interface FirecrackerFault {
  fault_message: string;
}

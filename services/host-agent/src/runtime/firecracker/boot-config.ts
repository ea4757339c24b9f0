import { ErrorCode, SandboxSpec, WrennError } from '@wrenn/contracts';
import { Drive, MachineConfiguration, NetworkInterface } from './firecracker-api';
import { ROOTFS_NAME } from './vmm-jail';

/** Where wrenn-init lives in the guest image (images/firecracker). */
export const GUEST_INIT = '/usr/local/sbin/wrenn-init';

/**
 * The guest kernel's command line: serial console, reboot = exit (Firecracker stops the VMM),
 * no PCI probing, the root drive, our init, the fixed guest address (see GUEST_NETWORK) and the
 * platform's facts for wrenn-init (`wrenn.*`).
 */
export function bootArgs(spec: Pick<SandboxSpec, 'sandboxId'>, nameservers: string[], ipBootArg: string): string {
  const args = [
    'console=ttyS0',
    'reboot=k',
    'panic=1',
    'pci=off',
    'root=/dev/vda',
    'rw',
    `init=${GUEST_INIT}`,
    ipBootArg,
    `wrenn.hostname=${spec.sandboxId}`,
  ];
  if (nameservers.length) args.push(`wrenn.dns=${nameservers.join(',')}`);
  return args.join(' ');
}

/** Machine shape from the spec; dirty page tracking on, so later pauses can write Diffs. */
export function machineConfig(spec: Pick<SandboxSpec, 'vcpus' | 'memoryMb'>): MachineConfiguration {
  assertShape(spec);
  return { vcpu_count: spec.vcpus, mem_size_mib: spec.memoryMb, smt: false, track_dirty_pages: true };
}

/** Firecracker takes 1 or an even number of vCPUs, at most 32. */
export function assertShape(spec: Pick<SandboxSpec, 'vcpus' | 'memoryMb'>): void {
  const v = spec.vcpus;
  if (!Number.isInteger(v) || v < 1 || v > 32 || (v > 1 && v % 2 === 1)) {
    throw new WrennError(ErrorCode.ValidationFailed, `a Firecracker sandbox needs 1 or an even number of vcpus up to 32, got ${v}`);
  }
  if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 128) {
    throw new WrennError(ErrorCode.ValidationFailed, `a Firecracker sandbox needs at least 128 MB of memory, got ${spec.memoryMb}`);
  }
}

export function rootDrive(stableDir: string): Drive {
  return { drive_id: 'rootfs', path_on_host: `${stableDir}/${ROOTFS_NAME}`, is_root_device: true, is_read_only: false, cache_type: 'Unsafe', io_engine: 'Sync' };
}

/** The guest's eth0 on the slot's TAP (device and MAC as the slot was built with). */
export function guestInterface(tap: string, mac: string): NetworkInterface {
  return { iface_id: 'eth0', host_dev_name: tap, guest_mac: mac };
}

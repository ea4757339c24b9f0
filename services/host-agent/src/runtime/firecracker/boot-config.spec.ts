import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertShape, bootArgs, GUEST_INIT, guestInterface, machineConfig, rootDrive } from './boot-config';
import { GUEST_NETWORK, guestIpBootArg } from '../../networking';

describe('Firecracker boot configuration', () => {
  it('boots wrenn-init on the root drive with the fixed guest address and the sandbox facts', () => {
    const args = bootArgs({ sandboxId: 'sb_01abc' }, ['10.0.0.53', '9.9.9.9'], guestIpBootArg()).split(' ');
    for (const a of ['console=ttyS0', 'reboot=k', 'panic=1', 'pci=off', 'root=/dev/vda', 'rw', `init=${GUEST_INIT}`, 'ip=169.254.0.21::169.254.0.22:255.255.255.252::eth0:off', 'wrenn.hostname=sb_01abc', 'wrenn.dns=10.0.0.53,9.9.9.9']) {
      assert.ok(args.includes(a), a);
    }
    assert.ok(!bootArgs({ sandboxId: 'sb_x' }, [], guestIpBootArg()).includes('wrenn.dns'), 'no empty nameserver list');
  });

  it('tracks dirty pages so a re-pause can write a Diff', () => {
    assert.deepEqual(machineConfig({ vcpus: 4, memoryMb: 1024 }), { vcpu_count: 4, mem_size_mib: 1024, smt: false, track_dirty_pages: true });
  });

  it("takes Firecracker's vCPU rule (1 or even, at most 32) and a usable memory size", () => {
    for (const vcpus of [1, 2, 8, 32]) assertShape({ vcpus, memoryMb: 512 });
    for (const vcpus of [0, 3, 5, 34, 1.5]) assert.throws(() => assertShape({ vcpus, memoryMb: 512 }), /1 or an even number/);
    assert.throws(() => assertShape({ vcpus: 1, memoryMb: 64 }), /at least 128 MB/);
  });

  it('names the root drive by the stable path and the NIC by the slot-independent TAP', () => {
    assert.equal(rootDrive('/run/wrenn/fc-vm').path_on_host, '/run/wrenn/fc-vm/rootfs.ext4');
    assert.deepEqual(guestInterface(GUEST_NETWORK.tap, GUEST_NETWORK.guestMac), { iface_id: 'eth0', host_dev_name: 'tap0', guest_mac: '06:00:a9:fe:00:15' });
  });
});

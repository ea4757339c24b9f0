import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootArgs, guestInterface, machineConfig, rootDrive } from './boot-config';
import { GUEST_NETWORK, guestIpBootArg } from '../../networking';
import { FirecrackerApiError, FirecrackerClient } from './firecracker.client';
import { FakeFirecrackerApi, FIRECRACKER_SPEC_PATH, FirecrackerSpec, SPEC_MISSING } from '@wrenn/host-agent-test-support';

const spec = SPEC_MISSING ? (undefined as unknown as FirecrackerSpec) : new FirecrackerSpec();

describe(FirecrackerSpec.name, { skip: SPEC_MISSING }, () => {
  it('is the pinned v1.16.1 Swagger 2.0 document', () => {
    assert.match(FIRECRACKER_SPEC_PATH, /shared\/fixtures\/firecracker\/firecracker-v1\.16\.1\.yaml$/);
    assert.equal((spec.doc as unknown as { info: { version: string } }).info.version, '1.16.1');
  });
  it('knows the operations the runtime uses and refuses unknown methods and paths', () => {
    assert.deepEqual(spec.check('PUT', '/drives/rootfs', { drive_id: 'rootfs', is_root_device: true }), { operationId: 'putGuestDriveByID', template: '/drives/{drive_id}' });
    assert.ok('error' in spec.check('POST', '/actions', { action_type: 'InstanceStart' }));
    assert.ok('error' in spec.check('PUT', '/snapshot/restore', {}));
  });
  it('refuses bodies that break the schema: missing required fields, wrong enums, unknown fields', () => {
    assert.match((spec.check('PUT', '/machine-config', { vcpu_count: 2 }) as { error: string }).error, /mem_size_mib/);
    assert.match((spec.check('PATCH', '/vm', { state: 'Stopped' }) as { error: string }).error, /allowed values/);
    assert.match((spec.check('PUT', '/snapshot/create', { snapshot_path: 'a', mem_file_path: 'b', snapshot_type: 'Incremental' }) as { error: string }).error, /allowed values/);
    assert.match((spec.check('PUT', '/boot-source', { kernel_image_path: 'k', kernel_args: 'x' }) as { error: string }).error, /kernel_args/);
    assert.match((spec.check('PUT', '/snapshot/load', { snapshot_path: 's', mem_backend: { backend_type: 'Uffd' } }) as { error: string }).error, /backend_path/);
    assert.match((spec.check('PUT', '/actions', undefined) as { error: string }).error, /required/);
  });
  it('accepts what the runtime builds for a VM', () => {
    for (const [method, path, body] of [
      ['PUT', '/machine-config', machineConfig({ vcpus: 2, memoryMb: 512 })],
      ['PUT', '/boot-source', { kernel_image_path: '/k', boot_args: bootArgs({ sandboxId: 'sb_x' }, ['1.1.1.1'], guestIpBootArg()) }],
      ['PUT', '/drives/rootfs', rootDrive('/run/wrenn/fc-vm')],
      ['PUT', '/network-interfaces/eth0', guestInterface(GUEST_NETWORK.tap, GUEST_NETWORK.guestMac)],
    ] as const) {
      const result = spec.check(method, path, body);
      assert.ok(!('error' in result), `${method} ${path}: ${JSON.stringify(result)}`);
    }
  });
});

describe(`${FirecrackerClient.name} against ${FakeFirecrackerApi.name}`, { skip: SPEC_MISSING }, () => {
  let dir: string;
  let fake: FakeFirecrackerApi;
  let client: FirecrackerClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrenn-fcapi-'));
    fake = new FakeFirecrackerApi({ socketPath: join(dir, 'api.sock'), spec });
    await fake.listen();
    client = new FirecrackerClient(join(dir, 'api.sock'));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  const refusal = async (p: Promise<unknown>): Promise<FirecrackerApiError> => {
    const error = await p.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof FirecrackerApiError, `refused (${String(error)})`);
    assert.equal(error.status, 400);
    return error;
  };

  it('refuses snapshot/create and PATCH /vm before the VM starts, and InstanceStart without a kernel', async () => {
    await refusal(client.pause());
    await refusal(client.createSnapshot({ snapshot_path: join(dir, 's'), mem_file_path: join(dir, 'm') }));
    const e = await refusal(client.startInstance());
    assert.match(e.faultMessage, /kernel/);
  });

  it('boots once: pre-boot calls work before InstanceStart and are refused after it, as is a second start', async () => {
    await client.putMachineConfig(machineConfig({ vcpus: 1, memoryMb: 128 }));
    await client.putBootSource({ kernel_image_path: '/k', boot_args: 'console=ttyS0' });
    await client.putDrive(rootDrive('/run/x'));
    await client.putNetworkInterface(guestInterface(GUEST_NETWORK.tap, GUEST_NETWORK.guestMac));
    await client.startInstance();
    assert.equal((await client.describe()).state, 'Running');
    assert.match((await refusal(client.startInstance())).faultMessage, /after starting/);
    await refusal(client.putBootSource({ kernel_image_path: '/k2' }));
  });

  it('snapshots only while Paused and writes the files it is asked for', async () => {
    await refusal(client.createSnapshot({ snapshot_path: join(dir, 'vmstate'), mem_file_path: join(dir, 'mem'), snapshot_type: 'Full' }));
    await client.pause();
    await client.createSnapshot({ snapshot_path: join(dir, 'vmstate'), mem_file_path: join(dir, 'mem'), snapshot_type: 'Full' });
    assert.equal((await stat(join(dir, 'mem'))).size, 128 * 1024 * 1024);
    await client.createSnapshot({ snapshot_path: join(dir, 'vmstate2'), mem_file_path: join(dir, 'mem2'), snapshot_type: 'Diff' });
    await client.resume();
    assert.equal((await client.describe()).state, 'Running');
  });

  it('loads a snapshot only on a fresh VMM, with the Uffd backend connected to the page server socket', async () => {
    await refusal(client.loadSnapshot({ snapshot_path: join(dir, 'vmstate'), mem_backend: { backend_type: 'Uffd', backend_path: join(dir, 'uffd.sock') } }));
    const fresh = new FakeFirecrackerApi({ socketPath: join(dir, 'fresh.sock'), spec });
    await fresh.listen();
    const c = new FirecrackerClient(join(dir, 'fresh.sock'));
    try {
      const noServer = await refusal(c.loadSnapshot({ snapshot_path: join(dir, 'vmstate'), mem_backend: { backend_type: 'Uffd', backend_path: join(dir, 'uffd.sock') }, resume_vm: true }));
      assert.match(noServer.faultMessage, /UFFD socket/);
      await writeFile(join(dir, 'not-a-socket'), '');
      const notSocket = await refusal(c.loadSnapshot({ snapshot_path: join(dir, 'vmstate'), mem_backend: { backend_type: 'Uffd', backend_path: join(dir, 'not-a-socket') }, resume_vm: true }));
      assert.match(notSocket.faultMessage, /UFFD socket: .* is not a socket/);
      // It does not connect (it has no userfaultfd to hand over): a page server listening there is enough.
      let connected = false;
      const pageServer = createServer((s) => {
        connected = true;
        s.destroy();
      });
      await new Promise<void>((r) => pageServer.listen(join(dir, 'uffd.sock'), r));
      await c.loadSnapshot({ snapshot_path: join(dir, 'vmstate'), mem_backend: { backend_type: 'Uffd', backend_path: join(dir, 'uffd.sock') }, track_dirty_pages: true, resume_vm: true });
      assert.ok(!connected, 'no half-open connection for the page server to time out on');
      assert.equal((await c.describe()).state, 'Running');
      // Dirty tracking came with the load, so a Diff is allowed.
      await c.pause();
      await c.createSnapshot({ snapshot_path: join(dir, 'vmstate3'), mem_file_path: join(dir, 'mem3'), snapshot_type: 'Diff' });
      await new Promise<void>((r) => pageServer.close(() => r()));
    } finally {
      await fresh.close();
    }
  });

  it('refuses a Diff on a VM without dirty page tracking', async () => {
    const plain = new FakeFirecrackerApi({ socketPath: join(dir, 'plain.sock'), spec });
    await plain.listen();
    const c = new FirecrackerClient(join(dir, 'plain.sock'));
    try {
      await c.putMachineConfig({ vcpu_count: 1, mem_size_mib: 128 });
      await c.putBootSource({ kernel_image_path: '/k' });
      await c.startInstance();
      await c.pause();
      assert.match((await refusal(c.createSnapshot({ snapshot_path: join(dir, 'v4'), mem_file_path: join(dir, 'm4'), snapshot_type: 'Diff' }))).faultMessage, /dirty page tracking/);
    } finally {
      await plain.close();
    }
  });

  it('answers requests the spec refuses with 400 and a fault_message, and records every call', async () => {
    const before = fake.calls.length;
    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ socketPath: join(dir, 'api.sock'), method: 'PUT', path: '/machine-config', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
      req.end(JSON.stringify({ vcpu_count: 1, mem_size_mib: 128, balloon: true }));
    });
    assert.equal(raw.status, 400);
    assert.match(JSON.parse(raw.body).fault_message, /balloon/);
    assert.equal(fake.calls.length, before + 1);
    assert.equal(fake.calls.at(-1)!.status, 400);
  });
});

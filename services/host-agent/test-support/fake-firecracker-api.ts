import { appendFileSync, existsSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { FirecrackerSpec } from './firecracker-spec';

/** One request the fake received, with its answer. */
export interface RecordedCall {
  method: string;
  path: string;
  body: unknown;
  status: number;
  fault?: string;
}

export interface FakeFirecrackerApiOptions {
  socketPath: string;
  spec?: FirecrackerSpec;
  /** Each call is appended here as a JSON line (the fake may run as another process). */
  callLog?: string;
  /**
   * JSON file read on every request: `{"PUT /snapshot/create": "reason"}` makes that call fail
   * with 400 and the reason as fault_message — how tests make Firecracker refuse a step.
   */
  faultsFile?: string;
  /** A second faults file, shared by every fake of a test (e.g. to fail a create). */
  sharedFaultsFile?: string;
}

type VmPhase = 'Not started' | 'Running' | 'Paused';

/**
 * A stand-in for Firecracker's API, for tests only: it serves the pinned spec's operations on a
 * Unix socket, refuses with 400 + `{fault_message}` what the spec refuses (unknown method/path,
 * bodies not matching their schema, unknown fields) and what Firecracker's state machine refuses
 * (pre-boot calls after start, a second InstanceStart, snapshot/create unless Paused, Diff
 * without dirty page tracking, snapshot/load on a configured VMM), and records every call.
 * It writes the snapshot files it is asked for (small placeholders, memory files sparse) and,
 * for a Uffd load, checks that a page server listens where Firecracker would connect.
 */
export class FakeFirecrackerApi {
  readonly calls: RecordedCall[] = [];
  private readonly spec: FirecrackerSpec;
  private server: Server | undefined;
  private phase: VmPhase = 'Not started';
  private configured = false;
  private bootSource = false;
  private memMib = 0;
  private trackDirty = false;

  constructor(private readonly options: FakeFirecrackerApiOptions) {
    this.spec = options.spec ?? new FirecrackerSpec();
  }

  listen(): Promise<void> {
    rmSync(this.options.socketPath, { force: true });
    this.server = createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.socketPath, () => resolve());
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.options.socketPath, { force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    let body: unknown;
    let answer: { status: number; fault?: string; json?: unknown };
    try {
      body = text ? JSON.parse(text) : undefined;
      answer = await this.apply(method, path, body);
    } catch (error) {
      answer = { status: 400, fault: `Invalid request: ${(error as Error).message}` };
    }
    const call: RecordedCall = { method, path, body, status: answer.status, ...(answer.fault ? { fault: answer.fault } : {}) };
    this.calls.push(call);
    if (this.options.callLog) appendFileSync(this.options.callLog, `${JSON.stringify(call)}\n`);
    if (answer.fault) {
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify({ fault_message: answer.fault }));
    } else if (answer.json !== undefined) {
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.json));
    } else {
      res.writeHead(answer.status).end();
    }
  }

  private async apply(method: string, path: string, body: unknown): Promise<{ status: number; fault?: string; json?: unknown }> {
    const checked = this.spec.check(method, path, body);
    if ('error' in checked) return { status: 400, fault: checked.error };
    const injected = this.injectedFault(`${method} ${checked.template}`);
    if (injected) return { status: 400, fault: injected };
    const refuse = (fault: string) => ({ status: 400, fault });
    const preBoot = () => (this.phase !== 'Not started' ? refuse('The requested operation is not supported after starting the microVM.') : undefined);
    const b = body as Record<string, any>;
    switch (checked.operationId) {
      case 'describeInstance':
        return { status: 200, json: { id: 'anonymous-instance', state: this.phase, vmm_version: '1.16.1', app_name: 'Firecracker' } };
      case 'putGuestBootSource':
        return preBoot() ?? ((this.configured = this.bootSource = true), { status: 204 });
      case 'putGuestDriveByID':
      case 'putGuestNetworkInterfaceByID': {
        const id = b.drive_id ?? b.iface_id;
        if (!path.endsWith(`/${encodeURIComponent(id)}`)) return refuse('The id from the path does not match the id from the body!');
        return preBoot() ?? ((this.configured = true), { status: 204 });
      }
      case 'putMachineConfiguration': {
        const refused = preBoot();
        if (refused) return refused;
        this.configured = true;
        this.memMib = b.mem_size_mib;
        this.trackDirty = !!b.track_dirty_pages;
        return { status: 204 };
      }
      case 'createSyncAction':
        if (b.action_type !== 'InstanceStart') return { status: 204 };
        if (this.phase !== 'Not started') return refuse('The requested operation is not supported after starting the microVM.');
        if (!this.bootSource) return refuse('Cannot start microvm without kernel configuration.');
        this.phase = 'Running';
        return { status: 204 };
      case 'patchVm':
        if (this.phase === 'Not started') return refuse('The requested operation is not supported before starting the microVM.');
        this.phase = b.state === 'Paused' ? 'Paused' : 'Running';
        return { status: 204 };
      case 'createSnapshot': {
        if (this.phase !== 'Paused') return refuse('Create snapshot error: the microVM must be paused.');
        if (b.snapshot_type === 'Diff' && !this.trackDirty) return refuse('Diff snapshots are not allowed on uVMs with dirty page tracking disabled.');
        writeFileSync(b.snapshot_path, JSON.stringify({ fake: 'vmstate', memMib: this.memMib, trackDirty: this.trackDirty }));
        writeFileSync(b.mem_file_path, '');
        // Real memory files have the guest's size; sparse here, with one page written.
        const { truncateSync, openSync, writeSync, closeSync } = await import('node:fs');
        truncateSync(b.mem_file_path, this.memMib * 1024 * 1024);
        const fd = openSync(b.mem_file_path, 'r+');
        writeSync(fd, Buffer.alloc(4096, b.snapshot_type === 'Diff' ? 0xdd : 0xff), 0, 4096, 0);
        closeSync(fd);
        return { status: 204 };
      }
      case 'loadSnapshot': {
        if (this.configured || this.phase !== 'Not started') return refuse('Loading a microVM snapshot not allowed after configuring boot-specific resources.');
        if (!b.mem_backend && !b.mem_file_path) return refuse('Either mem_backend or mem_file_path must be present.');
        if (b.mem_backend && b.mem_file_path) return refuse('Only one of mem_backend or mem_file_path can be present.');
        if (!existsSync(b.snapshot_path)) return refuse(`Load snapshot error: cannot open ${b.snapshot_path}: No such file or directory`);
        let state: { memMib?: number; trackDirty?: boolean };
        try {
          state = JSON.parse(readFileSync(b.snapshot_path, 'utf8'));
        } catch {
          return refuse('Load snapshot error: the microVM state file is not a snapshot.');
        }
        if (b.mem_backend?.backend_type === 'Uffd') {
          // Firecracker connects and hands over its userfaultfd at once; this stand-in has no
          // guest memory to hand over, and a connection it held without the handshake would
          // make the page server give up after its handshake timeout (10 s) and exit while the
          // "VM" runs on. So it only checks that a page server is listening there.
          const refused = uffdSocketProblem(b.mem_backend.backend_path);
          if (refused) return refuse(`Load snapshot error: cannot connect to the UFFD socket: ${refused}`);
        }
        this.configured = true;
        this.memMib = state.memMib ?? 0;
        this.trackDirty = !!(b.track_dirty_pages ?? b.enable_diff_snapshots);
        this.phase = b.resume_vm ? 'Running' : 'Paused';
        return { status: 204 };
      }
      default:
        return { status: 204 };
    }
  }

  private injectedFault(key: string): string | undefined {
    for (const file of [this.options.faultsFile, this.options.sharedFaultsFile]) {
      if (!file || !existsSync(file)) continue;
      try {
        const fault = (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)[key];
        if (fault) return fault;
      } catch {
        // a file being rewritten: no fault this time
      }
    }
    return undefined;
  }
}

/** Why nothing could connect to `path` (no such file, not a socket), or undefined when a socket is there. */
function uffdSocketProblem(path: string): string | undefined {
  try {
    return lstatSync(path).isSocket() ? undefined : `${path} is not a socket`;
  } catch (error) {
    return (error as Error).message;
  }
}

import { request } from 'node:http';
import {
  BootSource,
  Drive,
  FirecrackerFault,
  InstanceActionInfo,
  MachineConfiguration,
  NetworkInterface,
  SnapshotCreateParams,
  SnapshotLoadParams,
  Vm,
} from './firecracker-api';

/** A request Firecracker refused or could not serve; carries its `fault_message`. */
export class FirecrackerApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly faultMessage: string,
  ) {
    super(`firecracker ${method} ${path} answered ${status}: ${faultMessage}`);
    this.name = 'FirecrackerApiError';
  }
}

export interface FirecrackerClientOptions {
  /** Per request; snapshot creation of a large VM is the slowest call. */
  timeoutMs?: number;
}

/**
 * Firecracker's HTTP API over its Unix socket (one VMM per socket). Every call maps to one
 * operation of the pinned spec; a non-2xx answer throws FirecrackerApiError.
 */
export class FirecrackerClient {
  constructor(
    readonly socketPath: string,
    private readonly options: FirecrackerClientOptions = {},
  ) {}

  putBootSource(body: BootSource): Promise<void> {
    return this.call('PUT', '/boot-source', body);
  }

  putDrive(body: Drive): Promise<void> {
    return this.call('PUT', `/drives/${encodeURIComponent(body.drive_id)}`, body);
  }

  putNetworkInterface(body: NetworkInterface): Promise<void> {
    return this.call('PUT', `/network-interfaces/${encodeURIComponent(body.iface_id)}`, body);
  }

  putMachineConfig(body: MachineConfiguration): Promise<void> {
    return this.call('PUT', '/machine-config', body);
  }

  startInstance(): Promise<void> {
    const body: InstanceActionInfo = { action_type: 'InstanceStart' };
    return this.call('PUT', '/actions', body);
  }

  pause(): Promise<void> {
    const body: Vm = { state: 'Paused' };
    return this.call('PATCH', '/vm', body);
  }

  resume(): Promise<void> {
    const body: Vm = { state: 'Resumed' };
    return this.call('PATCH', '/vm', body);
  }

  createSnapshot(body: SnapshotCreateParams): Promise<void> {
    return this.call('PUT', '/snapshot/create', body);
  }

  loadSnapshot(body: SnapshotLoadParams): Promise<void> {
    return this.call('PUT', '/snapshot/load', body);
  }

  /** Instance information (`GET /`): answers once the API thread serves requests. */
  describe(): Promise<{ id: string; state: string; vmm_version: string; app_name: string }> {
    return this.call('GET', '/');
  }

  /** Polls `GET /` until the API answers (the socket appears a moment after the process starts). */
  async waitReady(timeoutMs: number, alive: () => boolean | Promise<boolean> = () => true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        await this.describe();
        return;
      } catch (error) {
        last = error;
        if (!(await alive())) throw new Error(`firecracker exited before its API answered (${(error as Error).message})`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`firecracker API at ${this.socketPath} did not answer within ${timeoutMs} ms: ${(last as Error)?.message}`);
  }

  private call<T = void>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
          timeout: this.options.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve((text ? JSON.parse(text) : undefined) as T);
              return;
            }
            let fault = text;
            try {
              fault = (JSON.parse(text) as FirecrackerFault).fault_message ?? text;
            } catch {
              // not JSON: keep the raw text
            }
            reject(new FirecrackerApiError(method, path, status, fault));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`firecracker ${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

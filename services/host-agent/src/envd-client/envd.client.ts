import { create } from '@bufbuild/protobuf';
import { Client, Code, ConnectError, createClient, Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { ExecResult } from '@wrenn/contracts';
import { filesystemPb, processPb } from '@wrenn/proto';
import { request as httpRequest, IncomingMessage, Agent } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EnvdHost, ENVD_HOST_SANDBOX_HEADER } from '../envd-host/envd-host';
import { ENVD_ACCESS_TOKEN_HEADER } from './envd-token';
import { BoundedText, DEFAULT_ENVD_ERROR_BODY_MAX, readBounded } from './bounded-body';

export interface ProcessSpec {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
}

export type EnvdEvent = processPb.ProcessEvent['event'];

/** A process start handed straight to envd's handler (EnvdHost.startProcess for one sandbox). */
export type DirectStart = (request: processPb.StartRequest, header: Headers, signal?: AbortSignal) => AsyncIterable<processPb.StartResponse>;

/** Exit code as a shell reports it: 128 + signal for a killed process. */
export function exitCodeOf(end: { exitCode: number; exited: boolean; status: string }): number {
  if (end.exited) return end.exitCode;
  if (/killed/.test(end.status)) return 137;
  if (/terminated/.test(end.status)) return 143;
  return end.exitCode >= 0 ? end.exitCode : 128;
}

/**
 * The host agent's client of one sandbox's envd: Connect RPC for processes and the filesystem,
 * plain HTTP for file contents (streamed both ways, never buffered whole). For an envd this host
 * serves itself the RPCs go to it in process (the envd host's transport); file contents still go
 * over the host's envd socket, where envd's /files handler streams them as HTTP.
 */
export class EnvdClient {
  private readonly process: Client<typeof processPb.Process>;
  private readonly filesystem: Client<typeof filesystemPb.Filesystem>;
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    /** The sandbox's envd access token, sent on every request (see envd-token.ts). */
    readonly accessToken?: string,
    /** The most of an envd answer read into memory for an error or a small reply (WRENN_ENVD_ERROR_BODY_MAX). */
    readonly bodyMax = DEFAULT_ENVD_ERROR_BODY_MAX,
    /**
     * The host's own envd (namespace sandboxes): process starts go to `startProcess` (envd's
     * handler, called directly), other RPCs through `transport` (in process) and file contents
     * through `agent` (to the envd host's socket), naming the sandbox; `baseUrl` then only fills
     * the request line.
     */
    private readonly host?: { agent: Agent; sandboxId: string; transport?: Transport; startProcess?: DirectStart },
  ) {
    // The host's agent is shared by every sandbox's client (one pool of connections to one socket).
    this.agent = host?.agent ?? new Agent({ keepAlive: true, maxSockets: 64 });
    const transport = host?.transport ?? createConnectTransport({ baseUrl, httpVersion: '1.1', nodeOptions: { agent: this.agent } });
    this.process = createClient(processPb.Process, transport);
    this.filesystem = createClient(filesystemPb.Filesystem, transport);
  }

  close(): void {
    if (!this.host) this.agent.destroy();
  }

  private headers(user?: string): Record<string, string> {
    const h: Record<string, string> = {};
    if (user) h.authorization = `Basic ${Buffer.from(`${user}:`).toString('base64')}`;
    if (this.accessToken) h[ENVD_ACCESS_TOKEN_HEADER] = this.accessToken;
    if (this.host) h[ENVD_HOST_SANDBOX_HEADER] = this.host.sandboxId;
    return h;
  }

  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.baseUrl}/health`, { signal: AbortSignal.timeout(500) });
      await res.body?.cancel(); // the status is the answer; a body is never read
      return res.status === 204;
    } catch {
      return false;
    }
  }

  /**
   * Polls /health: envd needs a moment after the sandbox's init starts (Node boot, ~0.1 s). A
   * refused connection costs well under a millisecond, so a short fixed interval finds envd
   * ready within a few ms of it listening; the deadline bounds the retries.
   */
  async waitHealthy(timeoutMs = 10_000, intervalMs = 3): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.healthy()) return;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    throw new Error(`envd at ${this.baseUrl} did not become healthy within ${timeoutMs} ms`);
  }

  /** Starts a process; yields its events (start, output, end). Aborting the signal ends the stream only. */
  start(spec: ProcessSpec, options: { stdin?: boolean; pty?: { cols: number; rows: number }; signal?: AbortSignal }): AsyncIterable<processPb.StartResponse> {
    const request = {
      process: { cmd: spec.cmd, args: spec.args, envs: spec.env ?? {}, cwd: spec.cwd },
      stdin: options.stdin ?? false,
      pty: options.pty ? { size: options.pty } : undefined,
    };
    const direct = this.host?.startProcess;
    if (direct) return direct(create(processPb.StartRequestSchema, request), new Headers(this.headers(spec.user)), options.signal);
    return this.process.start(request, { signal: options.signal, headers: this.headers(spec.user), timeoutMs: 0 });
  }

  async sendInput(pid: number, data: Uint8Array, pty = false): Promise<void> {
    await this.process.sendInput({ process: { selector: { case: 'pid', value: pid } }, input: { input: { case: pty ? 'pty' : 'stdin', value: data } } }, { headers: this.headers() });
  }

  async closeStdin(pid: number): Promise<void> {
    await this.process.closeStdin({ process: { selector: { case: 'pid', value: pid } } }, { headers: this.headers() });
  }

  async signal(pid: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    await this.process
      .sendSignal(
        { process: { selector: { case: 'pid', value: pid } }, signal: signal === 'SIGKILL' ? processPb.Signal.SIGKILL : processPb.Signal.SIGTERM },
        { headers: this.headers() },
      )
      .catch((error) => {
        if (!(error instanceof ConnectError && error.code === Code.NotFound)) throw error; // exited meanwhile
      });
  }

  async resize(pid: number, cols: number, rows: number): Promise<void> {
    await this.process.update({ process: { selector: { case: 'pid', value: pid } }, pty: { size: { cols, rows } } }, { headers: this.headers() });
  }

  /** Runs a command to its end, keeping at most `outputLimit` bytes of each stream. */
  async exec(spec: ProcessSpec, timeoutSec: number, outputLimit = 1024 * 1024): Promise<ExecResult> {
    const started = performance.now();
    const out = new Capped(outputLimit);
    const err = new Capped(outputLimit);
    const abort = new AbortController();
    let pid: number | undefined;
    let timedOut = false;
    let exitCode = -1;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) void this.signal(pid, 'SIGKILL').catch(() => abort.abort());
      else abort.abort();
    }, timeoutSec * 1000);
    try {
      for await (const res of this.start(spec, { signal: abort.signal })) {
        const event = res.event?.event;
        if (event?.case === 'start') pid = event.value.pid;
        else if (event?.case === 'data') {
          const output = event.value.output;
          if (output.case === 'stdout' || output.case === 'pty') out.push(output.value);
          else if (output.case === 'stderr') err.push(output.value);
        } else if (event?.case === 'end') {
          exitCode = exitCodeOf(event.value);
        }
      }
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.InvalidArgument && /could not start/.test(error.rawMessage)) {
        // What a shell would say for a command that is not there.
        return { stdout: '', stderr: `${error.rawMessage}\n`, exitCode: 127, timedOut: false, truncated: false, durationMs: Math.round(performance.now() - started) };
      }
      if (!timedOut) throw error;
    } finally {
      clearTimeout(timer);
    }
    return { stdout: out.text(), stderr: err.text(), exitCode: timedOut && exitCode < 0 ? 137 : exitCode, timedOut, truncated: out.truncated || err.truncated, durationMs: Math.round(performance.now() - started) };
  }

  /** Streams `body` into a file (created with its parents, replaced atomically by envd). */
  async upload(path: string, body: Readable | AsyncIterable<Uint8Array>, user?: string): Promise<{ path: string; size: number }> {
    const url = new URL('/files', this.baseUrl);
    url.searchParams.set('path', path);
    if (user) url.searchParams.set('username', user);
    const req = httpRequest(url, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/octet-stream', ...this.headers(user) } });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    let size = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          size += chunk.length;
          yield chunk;
        }
      })(),
    );
    await Promise.all([pipeline(counted, req), response]);
    const res = await response;
    const answer = await readBounded(res, this.bodyMax);
    if (res.statusCode !== 200) throw fileError(res.statusCode ?? 500, answer, path);
    if (answer.truncated) throw new ConnectError(`${path}: envd's answer to an upload was longer than ${this.bodyMax} bytes`, Code.Internal);
    const [entry] = JSON.parse(answer.text) as Array<{ path: string }>;
    return { path: entry?.path ?? path, size };
  }

  /** Opens a file for reading as a stream. */
  async download(path: string, user?: string): Promise<{ size: number; stream: IncomingMessage }> {
    const url = new URL('/files', this.baseUrl);
    url.searchParams.set('path', path);
    if (user) url.searchParams.set('username', user);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(url, { method: 'GET', agent: this.agent, headers: this.headers(user) }, resolve);
      req.once('error', reject);
      req.end();
    });
    if (res.statusCode !== 200) throw fileError(res.statusCode ?? 500, await readBounded(res, this.bodyMax), path);
    return { size: Number(res.headers['content-length'] ?? 0), stream: res };
  }

  async listDir(path: string, depth: number, user?: string): Promise<filesystemPb.EntryInfo[]> {
    return (await this.filesystem.listDir({ path, depth }, { headers: this.headers(user) })).entries;
  }
}

/**
 * A client of a sandbox's envd wherever it answers: the host agent's own envd (namespace
 * sandboxes, on the envd host's socket) or one listening at the sandbox's address.
 */
export function envdClientFor(
  sandboxId: string,
  endpoint: { envdUrl: string; accessToken?: string; envdHost?: Pick<EnvdHost, 'agent' | 'transport' | 'startProcess'> },
  bodyMax?: number,
): EnvdClient {
  const host = endpoint.envdHost;
  return new EnvdClient(
    endpoint.envdUrl,
    endpoint.accessToken,
    bodyMax,
    host ? { agent: host.agent(), sandboxId, transport: host.transport(sandboxId), startProcess: (request, header, signal) => host.startProcess(sandboxId, request, header, signal) } : undefined,
  );
}

/** envd's file errors as Connect codes (its HTTP status says which). */
function fileError(status: number, body: BoundedText, path: string): ConnectError {
  let message = body.text;
  try {
    if (!body.truncated) message = (JSON.parse(body.text) as { message?: string }).message ?? body.text;
  } catch {
    /* not JSON */
  }
  // A cut body is shown only by its start: what follows is not worth a megabyte of log or answer.
  if (body.truncated) message = `${message.slice(0, 512)}… (envd's error body was cut at ${Buffer.byteLength(body.text)} bytes)`;
  const code = status === 404 ? Code.NotFound : status === 400 ? Code.InvalidArgument : status === 401 ? Code.PermissionDenied : status === 507 ? Code.ResourceExhausted : Code.Internal;
  return new ConnectError(`${path}: ${message}`, code);
}

class Capped {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(data: Uint8Array): void {
    const room = this.limit - this.size;
    if (data.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = Buffer.from(data.subarray(0, room));
    this.chunks.push(kept);
    this.size += kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

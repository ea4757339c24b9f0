import { Client, createClient, Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { childEnvironment } from '@wrenn/config';
import { filesystemPb, processPb } from '@wrenn/proto';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real envd process on 127.0.0.1 (a free port, a temporary HOME and working directory),
 * with Connect clients speaking HTTP/1.1 like E2B's SDKs and acting as `user` (Basic auth).
 */
export interface EnvdHarness {
  child: ChildProcess;
  baseUrl: string;
  /** The access token envd was started with (undefined: started without one). */
  accessToken?: string;
  /** fetch() against envd with the access token added (unless the init's headers set one). */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** A scratch directory for the test's files (absolute paths, so the acting user's home doesn't matter). */
  dir: string;
  process: Client<typeof processPb.Process>;
  filesystem: Client<typeof filesystemPb.Filesystem>;
  /** Resident set size of envd right now, in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

export const basicAuth = (user: string) => `Basic ${Buffer.from(`${user}:`).toString('base64')}`;

/**
 * Starts envd with a fresh random access token (as the host hands it over), or with
 * `accessToken: null` without one (as a VM's envd waits for the host's /init).
 */
export async function startEnvd(options: { user?: string; env?: Record<string, string>; accessToken?: string | null } = {}): Promise<EnvdHarness> {
  const accessToken = options.accessToken === null ? undefined : (options.accessToken ?? randomBytes(32).toString('base64url'));
  const dir = mkdtempSync(join(tmpdir(), 'envd-test-'));
  const home = mkdtempSync(join(tmpdir(), 'envd-home-'));
  const child = spawn(process.execPath, [require.resolve('@wrenn/envd/dist/main.js')], {
    env: { ...withoutToken(childEnvironment()), ENVD_PORT: '0', ENVD_HOST: '127.0.0.1', HOME: home, ...(accessToken ? { ENVD_ACCESS_TOKEN: accessToken } : {}), ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`envd did not start: ${out}`)), 10_000);
    child.once('exit', (code) => reject(new Error(`envd exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /envd listening on [^\s]+:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const user = options.user ?? 'root';
  const auth: Interceptor = (next) => (req) => {
    if (!req.header.has('authorization')) req.header.set('authorization', basicAuth(user));
    if (accessToken && !req.header.has('x-access-token')) req.header.set('x-access-token', accessToken);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [auth] });
  return {
    child,
    baseUrl,
    accessToken,
    fetch: (url, init = {}) => {
      const headers = new Headers(init.headers);
      if (accessToken && !headers.has('x-access-token')) headers.set('x-access-token', accessToken);
      return fetch(url, { ...init, headers });
    },
    dir,
    process: createClient(processPb.Process, transport),
    filesystem: createClient(filesystemPb.Filesystem, transport),
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM'); // envd kills every process it started on the way out
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    },
  };
}

function withoutToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { ENVD_ACCESS_TOKEN: _, ...rest } = env;
  return rest;
}

/** Collects a process's stream: its pid, output by kind, the end, how many keepalives. */
export interface Collected {
  pid?: number;
  stdout: string;
  stderr: string;
  pty: string;
  keepalives: number;
  end?: processPb.ProcessEvent_EndEvent;
}

export async function collect(
  stream: AsyncIterable<{ event?: processPb.ProcessEvent }>,
  until: (c: Collected) => boolean = (c) => c.end !== undefined,
): Promise<Collected> {
  const c: Collected = { stdout: '', stderr: '', pty: '', keepalives: 0 };
  const decoder = { stdout: new TextDecoder(), stderr: new TextDecoder(), pty: new TextDecoder() };
  for await (const { event } of stream) {
    const e = event?.event;
    if (e?.case === 'start') c.pid = e.value.pid;
    else if (e?.case === 'data' && e.value.output.case) {
      const kind = e.value.output.case;
      c[kind] += decoder[kind].decode(e.value.output.value, { stream: true });
    } else if (e?.case === 'keepalive') c.keepalives++;
    else if (e?.case === 'end') c.end = e.value;
    if (until(c)) break;
  }
  return c;
}

import { Naming } from '@wrenn/contracts';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { join } from 'node:path';
import { ensureAuthority, writeCreds } from './authority';
import { hostIdentity, NatsIdentity, SERVICE_IDENTITIES } from './permissions';
import { renderServerConfig } from './server-config';

export interface SecuredNatsSetup {
  /** The authority's directory; creds are in `<dir>/creds`. */
  dir: string;
  credsDir: string;
  configPath: string;
  url: string;
}

/**
 * Everything one machine needs to run the platform on a NATS of its own with auth on: the trust
 * chain (kept across runs), creds for every service and the given hosts (issued again each time,
 * so a change of permissions reaches them), and the server config.
 */
export async function prepareSecuredNats(
  dir: string,
  names: Naming,
  options: { host: string; port: number; hostIds: string[]; storeDir?: string; monitorPort?: number; extra?: Array<{ identity: NatsIdentity; permissions: Parameters<typeof writeCreds>[3] }> },
): Promise<SecuredNatsSetup> {
  const authority = await ensureAuthority(dir);
  for (const service of SERVICE_IDENTITIES) await writeCreds(authority, { kind: 'service', service }, names);
  for (const hostId of options.hostIds) await writeCreds(authority, hostIdentity(hostId), names);
  for (const extra of options.extra ?? []) await writeCreds(authority, extra.identity, names, extra.permissions);
  const storeDir = options.storeDir ?? join(dir, 'jetstream');
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  const configPath = join(dir, 'nats-server.conf');
  writeFileSync(configPath, renderServerConfig(authority, { host: options.host, port: options.port, storeDir, monitorPort: options.monitorPort }), { mode: 0o600 });
  return { dir, credsDir: join(dir, 'creds'), configPath, url: `nats://${options.host}:${options.port}` };
}

/** A free TCP port on loopback (the OS picks; closed again before returning). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function natsServerBinary(): string {
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (existsSync(candidate)) return candidate;
  }
  return 'nats-server';
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RunningNatsServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Runs nats-server with `configPath` and waits until it accepts connections. `detached` leaves it
 * running after this process exits (what `npm start` wants); otherwise it is this process's child.
 */
export async function startNatsServer(configPath: string, options: { host: string; port: number; logFile?: string; detached?: boolean; timeoutMs?: number }): Promise<RunningNatsServer> {
  const log = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(natsServerBinary(), ['-c', configPath], { detached: options.detached ?? false, stdio: ['ignore', log, log] });
  if (typeof log === 'number') closeSync(log);
  if (options.detached) child.unref();
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `nats-server exited (${code ?? signal})`;
  });
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!(await answers(options.host, options.port))) {
    if (exited) throw new Error(`${exited}${options.logFile ? `; see ${options.logFile}` : ''}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not listen on ${options.host}:${options.port} within ${options.timeoutMs ?? 15_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://${options.host}:${options.port}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

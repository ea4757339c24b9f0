import { naming } from '@wrenn/contracts';
import { loadConfig, variable } from '@wrenn/config';
import { ensureAuthority, hostIdentity, identityName, issueCreds, loadAuthority, prepareSecuredNats, renderServerConfig, serviceIdentity, writeCreds } from '@wrenn/nats-auth';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The directory of the NATS trust chain: --dir, else WRENN_NATS_AUTH_DIR, else <state dir>/nats-auth. */
export function authDir(dir?: string): string {
  return dir ?? variable('WRENN_NATS_AUTH_DIR') ?? join(loadConfig().host.stateDir, 'nats-auth');
}

/**
 * `wrenn nats init`: makes (or keeps) the operator, the account and its signing key, issues every
 * service's creds and writes a server config for one machine. Prints where each is.
 */
export async function natsInit(opts: { dir?: string; host: string; port: number; storeDir?: string; monitorPort?: number; hosts: string[] }): Promise<void> {
  const dir = authDir(opts.dir);
  const setup = await prepareSecuredNats(dir, naming(loadConfig().namespace), { host: opts.host, port: opts.port, hostIds: opts.hosts, storeDir: opts.storeDir, monitorPort: opts.monitorPort });
  console.log(`trust chain and creds in ${dir} (seeds and creds 0600)`);
  console.log(`server config: ${setup.configPath}  (nats-server -c ${setup.configPath})`);
  console.log(`services: WRENN_NATS_CREDS_DIR=${setup.credsDir} NATS_URL=${setup.url}`);
}

/** `wrenn nats server-config`: the server config for another machine of a cluster (TLS, listen address). */
export async function natsServerConfig(opts: { dir?: string; host: string; port: number; storeDir: string; name?: string; tlsCert?: string; tlsKey?: string; tlsCa?: string; out?: string }): Promise<void> {
  const authority = await ensureAuthority(authDir(opts.dir));
  const text = renderServerConfig(authority, {
    host: opts.host,
    port: opts.port,
    storeDir: opts.storeDir,
    serverName: opts.name,
    tls: opts.tlsCert && opts.tlsKey ? { cert: opts.tlsCert, key: opts.tlsKey, ca: opts.tlsCa } : undefined,
  });
  if (opts.out) {
    writeFileSync(opts.out, text, { mode: 0o600 });
    chmodSync(opts.out, 0o600);
  } else process.stdout.write(text);
}

/**
 * `wrenn host enrol <host-id>`: a host agent's creds (its own host.<id>.… subjects only), signed
 * with the account's signing key. The server's config does not change: it trusts the account.
 * Written to --out (0600), or into the creds directory, or printed with --stdout.
 */
export async function enrolHost(hostId: string, opts: { dir?: string; out?: string; stdout?: boolean }): Promise<void> {
  const authority = loadAuthority(authDir(opts.dir));
  const identity = hostIdentity(hostId);
  const names = naming(loadConfig().namespace);
  if (opts.stdout) {
    process.stdout.write(await issueCreds(authority, identity, names));
    return;
  }
  if (opts.out) {
    writeFileSync(opts.out, await issueCreds(authority, identity, names), { mode: 0o600 });
    chmodSync(opts.out, 0o600);
    console.log(`${opts.out}: creds of ${identityName(identity)}; on the host set NATS_CREDS=<its path>`);
    return;
  }
  const path = await writeCreds(authority, identity, names);
  console.log(`${path}: creds of ${identityName(identity)}; on the host set NATS_CREDS=<its path>`);
}

/** `wrenn nats creds <service>`: one service's creds (for a unit that runs that service alone). */
export async function serviceCreds(service: string, opts: { dir?: string; out?: string }): Promise<void> {
  const authority = loadAuthority(authDir(opts.dir));
  const identity = serviceIdentity(service);
  const text = await issueCreds(authority, identity, naming(loadConfig().namespace));
  if (!opts.out) {
    process.stdout.write(text);
    return;
  }
  writeFileSync(opts.out, text, { mode: 0o600 });
  chmodSync(opts.out, 0o600);
  console.log(`${opts.out}: creds of ${service}`);
}

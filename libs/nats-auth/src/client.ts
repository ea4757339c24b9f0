import { Naming } from '@wrenn/contracts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Authenticator, credsAuthenticator } from 'nats';
import { identityName, inboxPrefix, NatsIdentity } from './permissions';

/** Where a process finds its NATS credentials (from WrennConfig). */
export interface NatsClientAuth {
  /** One creds file for this process (NATS_CREDS): a process that runs one service. */
  credsFile?: string;
  /** A directory of `<identity>.creds` (WRENN_NATS_CREDS_DIR): `wrenn start` running several. */
  credsDir?: string;
  /** WRENN_NATS_INSECURE=1: connect without credentials, an operator's explicit choice. */
  insecure: boolean;
}

export class NatsCredentialsError extends Error {
  readonly code = 'nats_credentials_missing';
}

export interface NatsAuthOptions {
  authenticator?: Authenticator;
  inboxPrefix?: string;
}

let warned = false;

/**
 * The connect options that authenticate `identity`: its creds and the inbox prefix its
 * permissions allow. No creds and no explicit insecure flag is an error, never a silent
 * anonymous connection.
 */
export function natsAuthOptions(auth: NatsClientAuth, identity: NatsIdentity, names: Naming, warn: (msg: string) => void = (m) => console.error(m)): NatsAuthOptions {
  const file = auth.credsFile ?? (auth.credsDir ? join(auth.credsDir, `${identityName(identity)}.creds`) : undefined);
  if (file) {
    if (!existsSync(file)) throw new NatsCredentialsError(`NATS credentials for ${identityName(identity)} not found at ${file}`);
    if ((statSync(file).mode & 0o077) !== 0) warn(`[wrenn] ${file} is readable by other users: chmod 600 it`);
    return { authenticator: credsAuthenticator(new Uint8Array(readFileSync(file))), inboxPrefix: inboxPrefix(identity, names) };
  }
  if (!auth.insecure) {
    throw new NatsCredentialsError(
      `no NATS credentials for ${identityName(identity)}: set WRENN_NATS_CREDS_DIR or NATS_CREDS (see deploy/README.md), or WRENN_NATS_INSECURE=1 to run without auth`,
    );
  }
  if (!warned) {
    warned = true;
    warn(
      '[wrenn] WARNING: WRENN_NATS_INSECURE=1 — connecting to NATS WITHOUT credentials. Anyone who reaches this NATS can read every command and event and drive every sandbox. Never run this way where other users or sandboxes can reach NATS.',
    );
  }
  return {};
}

import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds, fromSeed, KeyPair } from '@nats-io/jwt';
import { Naming } from '@wrenn/contracts';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityName, NatsIdentity, Permissions, permissionsFor } from './permissions';

/**
 * The platform's NATS trust chain, decentralised: an operator signs two accounts (the system
 * account the server needs and WRENN, where every service and host agent lives); WRENN's signing
 * key signs one user JWT per identity, with that identity's permissions inside it. The server
 * only knows the operator and the two account JWTs, so issuing a user (a new host) never touches
 * the server's config.
 *
 * Files (in one directory, seeds and creds 0600, the directory 0700):
 *   operator.jwt, operator.nk          the operator (its seed signs account JWTs)
 *   system-account.jwt, .nk            $SYS, for the server's own traffic
 *   account.jwt, account.nk            WRENN's JWT and identity seed
 *   account-signing.nk                 the seed user JWTs are signed with (what `wrenn host enrol` needs)
 *   creds/<identity>.creds             one per service and host
 */
export interface Authority {
  dir: string;
  operatorJwt: string;
  systemAccountPublicKey: string;
  systemAccountJwt: string;
  accountPublicKey: string;
  accountJwt: string;
  /** Present when the signing seed is in `dir` (on the machine that issues creds). */
  signingKey?: KeyPair;
}

export class AuthorityError extends Error {
  constructor(
    readonly code: 'nats_authority_missing' | 'nats_signing_key_missing',
    message: string,
  ) {
    super(message);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function writeSecret(path: string, content: string | Uint8Array): void {
  writeFileSync(path, content, { mode: 0o600 });
  // writeFileSync keeps the mode of an existing file.
  chmodSync(path, 0o600);
}

function seedOf(kp: KeyPair): string {
  return dec.decode(kp.getSeed());
}

function readSeed(path: string): KeyPair {
  return fromSeed(enc.encode(readFileSync(path, 'utf8').trim()));
}

/**
 * Makes the trust chain in `dir`, or loads the one already there: idempotent, so every
 * `npm start` keeps its operator and every creds file issued before stays valid.
 */
export async function ensureAuthority(dir: string): Promise<Authority> {
  if (existsSync(join(dir, 'account.jwt'))) return loadAuthority(dir);
  mkdirSync(join(dir, 'creds'), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const signing = createAccount();
  const operatorJwt = await encodeOperator('wrenn', operator, { system_account: system.getPublicKey() });
  const systemAccountJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  // JetStream is enabled for the account by limits; -1 = unlimited (the operator bounds disk on the server).
  const accountJwt = await encodeAccount(
    'WRENN',
    account,
    {
      signing_keys: [signing.getPublicKey()],
      limits: { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1, subs: -1, data: -1, payload: -1, conn: -1, imports: -1, exports: -1, wildcards: true, leaf: -1 },
    },
    { signer: operator },
  );
  writeFileSync(join(dir, 'operator.jwt'), operatorJwt);
  writeSecret(join(dir, 'operator.nk'), seedOf(operator));
  writeFileSync(join(dir, 'system-account.jwt'), systemAccountJwt);
  writeSecret(join(dir, 'system-account.nk'), seedOf(system));
  writeFileSync(join(dir, 'account.jwt'), accountJwt);
  writeSecret(join(dir, 'account.nk'), seedOf(account));
  writeSecret(join(dir, 'account-signing.nk'), seedOf(signing));
  return loadAuthority(dir);
}

export function loadAuthority(dir: string): Authority {
  const read = (name: string) => {
    const path = join(dir, name);
    if (!existsSync(path)) throw new AuthorityError('nats_authority_missing', `${path} is missing: run \`wrenn nats init --dir ${dir}\` first`);
    return readFileSync(path, 'utf8').trim();
  };
  const accountJwt = read('account.jwt');
  const systemAccountJwt = read('system-account.jwt');
  const signingPath = join(dir, 'account-signing.nk');
  return {
    dir,
    operatorJwt: read('operator.jwt'),
    systemAccountJwt,
    systemAccountPublicKey: subjectOf(systemAccountJwt),
    accountJwt,
    accountPublicKey: subjectOf(accountJwt),
    signingKey: existsSync(signingPath) ? readSeed(signingPath) : undefined,
  };
}

function subjectOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as { sub: string };
  return payload.sub;
}

/**
 * A user JWT for `identity` with its permissions, signed by the account's signing key, as the
 * text of a .creds file (JWT and the user's own seed). The seed is made here and never kept.
 */
export async function issueCreds(authority: Authority, identity: NatsIdentity, names: Naming, permissions: Permissions = permissionsFor(identity, names)): Promise<string> {
  if (!authority.signingKey) {
    throw new AuthorityError('nats_signing_key_missing', `no account-signing.nk in ${authority.dir}: creds are issued where the signing key is kept`);
  }
  const user = createUser();
  // Issued by the account, signed by its signing key (the claim's issuer_account names WRENN).
  const jwt = await encodeUser(identityName(identity), user, authority.accountPublicKey, permissions, { signer: authority.signingKey });
  return dec.decode(fmtCreds(jwt, user));
}

/** Issues `identity`'s creds into `<dir>/creds/<name>.creds` (0600) and returns the path. */
export async function writeCreds(authority: Authority, identity: NatsIdentity, names: Naming, permissions?: Permissions): Promise<string> {
  mkdirSync(join(authority.dir, 'creds'), { recursive: true, mode: 0o700 });
  const path = join(authority.dir, 'creds', `${identityName(identity)}.creds`);
  writeSecret(path, await issueCreds(authority, identity, names, permissions));
  return path;
}

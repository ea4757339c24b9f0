import { readFileSync } from 'node:fs';
import { configuredDefaultUser } from './envd-config';
import { ConnectError, Code } from '@connectrpc/connect';

export interface SandboxUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Looks a user up in the sandbox's /etc/passwd (read each time: users may be added at run time). */
export function lookupUser(name: string, passwd = '/etc/passwd'): SandboxUser | undefined {
  let text: string;
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid, , home, shell] = line.split(':');
    if (user === name && uid !== undefined) return { name: user, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' };
  }
  return undefined;
}

/** E2B's templates run commands as `user` unless told otherwise; images without it get root. */
export const E2B_DEFAULT_USER = 'user';

/**
 * The name of envd's default user: the one POST /init set (or ENVD_DEFAULT_USER at start), else E2B's
 * `user` when the sandbox's image has it, else root (a bare Debian rootfs has no `user`).
 */
export function defaultUserName(passwd = '/etc/passwd'): string {
  const configured = configuredDefaultUser();
  if (configured) return configured;
  return lookupUser(E2B_DEFAULT_USER, passwd) ? E2B_DEFAULT_USER : 'root';
}

/** The user named in `Authorization: Basic base64(user:)` (how E2B's SDKs name it), if any. */
export function basicAuthUser(authorization: string | null | undefined): string | undefined {
  if (!authorization?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (colon < 0 ? decoded : decoded.slice(0, colon)) || undefined;
}

/**
 * The user a request acts as: an explicit name (the /files `username` query parameter), else
 * the Basic auth user, else envd's default user. An unknown name is Unauthenticated, as in
 * E2B's envd, whose SDK turns that code into its AuthenticationError.
 */
export function userFromHeaders(headers: Headers | Record<string, string | string[] | undefined>, explicit?: string): SandboxUser {
  const auth = headers instanceof Headers ? headers.get('authorization') : (headers['authorization'] as string | undefined);
  const name = explicit || basicAuthUser(auth) || defaultUserName();
  const user = lookupUser(name);
  if (!user) throw new ConnectError(`invalid username: '${name}'`, Code.Unauthenticated);
  return user;
}

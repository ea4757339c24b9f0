import { readFileSync } from 'node:fs';
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
  for (const line of readFileSync(passwd, 'utf8').split('\n')) {
    const [user, , uid, gid, , home, shell] = line.split(':');
    if (user === name) return { name: user, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' };
  }
  return undefined;
}

/**
 * The user a request acts as. E2B's SDKs name it in `Authorization: Basic base64(user:)`; without
 * one, envd's default user acts (ENVD_DEFAULT_USER, else root).
 */
export function userFromHeaders(headers: Headers | Record<string, string | string[] | undefined>, explicit?: string): SandboxUser {
  let name = explicit;
  if (!name) {
    const auth = headers instanceof Headers ? headers.get('authorization') : (headers['authorization'] as string | undefined);
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      name = decoded.split(':')[0] || undefined;
    }
  }
  name ??= process.env.ENVD_DEFAULT_USER ?? 'root';
  const user = lookupUser(name);
  if (!user) throw new ConnectError(`user "${name}" does not exist in this sandbox`, Code.InvalidArgument);
  return user;
}

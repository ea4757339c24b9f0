import { isAbsolute, resolve } from 'node:path';
import { SandboxUser } from './users';

/**
 * Paths from clients are taken relative to the acting user's home (as E2B's envd does) and
 * normalised. envd runs inside the sandbox's own root, so even "../../.." or a symlink to "/"
 * resolves within the sandbox: the host's filesystem is not reachable from here at all.
 */
export function resolvePath(path: string, user: SandboxUser): string {
  if (!path) return user.home;
  const expanded = path === '~' ? user.home : path.startsWith('~/') ? `${user.home}/${path.slice(2)}` : path;
  return isAbsolute(expanded) ? resolve(expanded) : resolve(user.home, expanded);
}

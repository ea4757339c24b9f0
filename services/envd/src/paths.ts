import { Code, ConnectError } from '@connectrpc/connect';
import { isAbsolute, join, resolve } from 'node:path';
import { SandboxUser } from './users';

/**
 * Resolves a client's path the way E2B's envd does, so the same SDK call touches the same file:
 *  - "" means the acting user's home; "~" and "~/x" expand to it ("~other" is refused: E2B's
 *    envd never looks up another user's home);
 *  - an absolute path is used exactly as given, ".." included: the kernel resolves it (so
 *    "/a/../b" needs "/a" to exist, and a symlinked "/a" is followed before "..");
 *  - a relative path is joined to the home and normalised lexically, so "../x" from
 *    /home/user is /home/x: paths are not confined to the home.
 * Nothing here is a security boundary: envd acts inside the sandbox's own root, and the user's
 * file permissions decide what it may touch.
 */
export function resolvePath(path: string, user: SandboxUser): string {
  let p = path;
  if (p.startsWith('~')) {
    if (p.length > 1 && p[1] !== '/') throw new ConnectError(`cannot expand user-specific home dir in '${path}'`, Code.InvalidArgument);
    p = join(user.home, p.slice(1));
  }
  if (isAbsolute(p)) return p;
  return resolve(user.home, p);
}

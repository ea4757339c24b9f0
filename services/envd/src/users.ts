import { ConnectError, Code } from '@connectrpc/connect';
import type { AccountFiles, SandboxSystem, SystemUser } from './system/sandbox-system';

/** A user of the sandbox as envd acts as it (the sandbox's /etc/passwd, groups from /etc/group). */
export type SandboxUser = SystemUser;

/** Finds `name` in the text of a passwd file, with its supplementary groups from a group file's text. */
export function parseUser(name: string, passwd: string, group = ''): SandboxUser | undefined {
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid, , home, shell] = line.split(':');
    if (user !== name || uid === undefined) continue;
    const groups: number[] = [];
    for (const g of group.split('\n')) {
      const [, , id, members] = g.split(':');
      if (members !== undefined && members.split(',').includes(name) && Number(id) !== Number(gid)) groups.push(Number(id));
    }
    return { name: user, uid: Number(uid), gid: Number(gid), groups, home: home || '/', shell: shell || '/bin/sh' };
  }
  return undefined;
}

/** E2B's templates run commands as `user` unless told otherwise; images without it get root. */
export const E2B_DEFAULT_USER = 'user';

/** The user named in `Authorization: Basic base64(user:)` (how E2B's SDKs name it), if any. */
export function basicAuthUser(authorization: string | null | undefined): string | undefined {
  if (!authorization?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (colon < 0 ? decoded : decoded.slice(0, colon)) || undefined;
}

/** uid/gid → name tables of one sandbox's account files. */
interface AccountNames {
  users: Map<number, string>;
  groups: Map<number, string>;
}

function idNames(text: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of text.split('\n')) {
    const parts = line.split(':');
    if (parts.length > 2) map.set(Number(parts[2]), parts[0]);
  }
  return map;
}

/**
 * One sandbox's users as envd sees them: read from the sandbox's own account files through its
 * SandboxSystem each time a request names a user (users may be added at run time), and the
 * default user, which POST /init may change.
 */
export class Users {
  private names: { at: number; names: Promise<AccountNames> } | undefined;
  /** The last stamped read of the account files (see forSpawn); only spawns use it. */
  private stamped: Promise<AccountFiles> | undefined;

  constructor(
    private readonly system: SandboxSystem,
    /** The default user: set at start or by POST /init; undefined means E2B's rule (see defaultName). */
    private readonly defaults: { defaultUser?: string },
  ) {}

  private async accounts(): Promise<AccountFiles> {
    return this.system.readAccountFiles().catch(() => ({ passwd: '', group: '' }));
  }

  async lookup(name: string): Promise<SandboxUser | undefined> {
    const { passwd, group } = await this.accounts();
    return parseUser(name, passwd, group);
  }

  /**
   * The name of the default user: the one POST /init set (or the start-time one), else E2B's
   * `user` when the sandbox's image has it, else root (a bare Debian rootfs has no `user`).
   */
  async defaultName(): Promise<string> {
    if (this.defaults.defaultUser) return this.defaults.defaultUser;
    return (await this.lookup(E2B_DEFAULT_USER)) ? E2B_DEFAULT_USER : 'root';
  }

  /**
   * The user a request acts as: an explicit name (the /files `username` query parameter), else
   * the Basic auth user, else the default user. An unknown name is Unauthenticated, as in
   * E2B's envd, whose SDK turns that code into its AuthenticationError.
   */
  async fromHeaders(headers: Headers | Record<string, string | string[] | undefined>, explicit?: string): Promise<SandboxUser> {
    return this.resolve(headers, explicit, await this.accounts());
  }

  /**
   * As fromHeaders, for a process start only: the user may come from an earlier read of the
   * account files, and then carries that read's stamp. This is safe because the spawn carrying
   * the stamp is refused (ESTALE) by the sandbox's init unless both files are still the ones read,
   * checked by the child that is about to exec; the caller then calls `forget` and resolves again.
   * A read without a stamp (files changed in the last moments, or an init that cannot check) is
   * never reused.
   */
  async forSpawn(headers: Headers | Record<string, string | string[] | undefined>): Promise<SandboxUser> {
    const read = (this.stamped ??= this.accounts());
    const files = await read;
    if (!files.stamp && this.stamped === read) this.stamped = undefined;
    const user = this.resolve(headers, undefined, files);
    return files.stamp ? { ...user, accountsStamp: files.stamp } : user;
  }

  /** The account files changed since the stamped read (a spawn was refused with ESTALE). */
  forget(): void {
    this.stamped = undefined;
  }

  private resolve(headers: Headers | Record<string, string | string[] | undefined>, explicit: string | undefined, { passwd, group }: AccountFiles): SandboxUser {
    const auth = headers instanceof Headers ? headers.get('authorization') : (headers['authorization'] as string | undefined);
    const name = explicit || basicAuthUser(auth) || this.defaults.defaultUser || (parseUser(E2B_DEFAULT_USER, passwd) ? E2B_DEFAULT_USER : 'root');
    const user = parseUser(name, passwd, group);
    if (!user) throw new ConnectError(`invalid username: '${name}'`, Code.Unauthenticated);
    return user;
  }

  /** uid → name and gid → name for entry owners, re-read at most once a second (a listing asks per entry). */
  async ownerNames(): Promise<{ user(uid: number): string; group(gid: number): string }> {
    if (!this.names || Date.now() - this.names.at >= 1000) {
      this.names = { at: Date.now(), names: this.accounts().then(({ passwd, group }) => ({ users: idNames(passwd), groups: idNames(group) })) };
    }
    const { users, groups } = await this.names.names;
    return { user: (uid) => users.get(uid) ?? String(uid), group: (gid) => groups.get(gid) ?? String(gid) };
  }
}

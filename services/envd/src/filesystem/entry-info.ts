import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { filesystemPb } from '@wrenn/proto';
import { basename } from 'node:path';
import type { SandboxSystem, SystemEntry, SystemUser } from '../system/sandbox-system';
import type { Users } from '../users';

const { EntryInfoSchema, FileType } = filesystemPb;

function typeOf(entry: SystemEntry): filesystemPb.FileType {
  if (entry.type === 'symlink') return FileType.SYMLINK;
  if (entry.type === 'directory') return FileType.DIRECTORY;
  return FileType.FILE;
}

/** rwxr-xr-x style, as `ls -l` shows it (with the type letter). */
export function permissionString(mode: number, type: filesystemPb.FileType): string {
  const letters = 'rwxrwxrwx';
  let out = type === FileType.DIRECTORY ? 'd' : type === FileType.SYMLINK ? 'l' : '-';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? letters[i] : '-';
  return out;
}

/** Whether an entry is a directory or a symlink to one (what a path "is" when followed). */
export function isDirectoryEntry(entry: SystemEntry): boolean {
  return entry.type === 'directory' || (entry.type === 'symlink' && !!entry.targetIsDirectory);
}

/** E2B's EntryInfo of `path`: a symlink reports what it points at (size, mode) plus its target, like E2B's envd. */
export async function entryInfo(system: SandboxSystem, users: Users, path: string, user: SystemUser): Promise<filesystemPb.EntryInfo> {
  const [entry, names] = await Promise.all([system.entry(path, user), users.ownerNames()]);
  const type = typeOf(entry);
  return create(EntryInfoSchema, {
    name: basename(path) || '/',
    type,
    path,
    size: BigInt(entry.size),
    mode: entry.mode & 0o7777,
    permissions: permissionString(entry.mode, type),
    owner: names.user(entry.uid),
    group: names.group(entry.gid),
    modifiedTime: timestampFromDate(new Date(entry.mtimeMs)),
    symlinkTarget: type === FileType.SYMLINK ? entry.symlinkTarget : undefined,
  });
}

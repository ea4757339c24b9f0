import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { filesystemPb } from '@wrenn/proto';
import { Stats } from 'node:fs';
import { lstat, readlink, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { groupName, userName } from './owners';

const { EntryInfoSchema, FileType } = filesystemPb;

function typeOf(st: Stats): filesystemPb.FileType {
  if (st.isSymbolicLink()) return FileType.SYMLINK;
  if (st.isDirectory()) return FileType.DIRECTORY;
  return FileType.FILE;
}

/** rwxr-xr-x style, as `ls -l` shows it (with the type letter). */
export function permissionString(mode: number, type: filesystemPb.FileType): string {
  const letters = 'rwxrwxrwx';
  let out = type === FileType.DIRECTORY ? 'd' : type === FileType.SYMLINK ? 'l' : '-';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? letters[i] : '-';
  return out;
}

export async function entryInfo(path: string): Promise<filesystemPb.EntryInfo> {
  const l = await lstat(path);
  const type = typeOf(l);
  // A symlink reports what it points at (size, mode) plus its target, like E2B's envd.
  const st = type === FileType.SYMLINK ? await stat(path).catch(() => l) : l;
  return create(EntryInfoSchema, {
    name: basename(path) || '/',
    type,
    path,
    size: BigInt(st.size),
    mode: st.mode & 0o7777,
    permissions: permissionString(st.mode, type),
    owner: userName(st.uid),
    group: groupName(st.gid),
    modifiedTime: timestampFromDate(st.mtime),
    symlinkTarget: type === FileType.SYMLINK ? await readlink(path) : undefined,
  });
}

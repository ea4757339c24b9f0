import { constants } from 'node:os';
import { SystemError } from '../sandbox-system';

/**
 * The wire format of a sandbox's init agent (native/sandbox/init-agent.h is the reference):
 * one SOCK_SEQPACKET packet per message, host byte order.
 *   request: u32 id | u32 op | NUL-terminated strings
 *   reply:   u32 id | u32 kind | i32 value | body
 * Nothing the init sends is trusted: every reply is checked for size and shape here or by the caller.
 */
export const InitOp = {
  entry: 1,
  readdir: 2,
  mkdirs: 3,
  rename: 4,
  remove: 5,
  openRead: 6,
  openWrite: 7,
  watch: 8,
  spawn: 9,
  signal: 10,
  spawnIf: 11,
} as const;
export type InitOpName = keyof typeof InitOp;

export const ReplyKind = { ok: 0, error: 1, more: 2, exit: 3 } as const;

/** The init refuses larger requests (AGENT_MAX_REQUEST). */
export const MAX_REQUEST = 128 * 1024;
const HEADER = 8;
const REPLY_HEADER = 12;

export interface Reply {
  id: number;
  kind: number;
  value: number;
  body: Buffer;
}

export function encodeRequest(id: number, op: number, args: string[]): Buffer {
  for (const a of args) if (a.includes('\0')) throw new SystemError('EINVAL', 'an argument holds a NUL byte');
  const parts = args.map((a) => Buffer.from(`${a}\0`, 'utf8'));
  const size = HEADER + parts.reduce((n, p) => n + p.length, 0);
  if (size > MAX_REQUEST) throw new SystemError('E2BIG', `request of ${size} bytes is larger than the init accepts (${MAX_REQUEST})`);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(id >>> 0, 0);
  out.writeUInt32LE(op, 4);
  let at = HEADER;
  for (const p of parts) at += p.copy(out, at);
  return out;
}

/** A reply's header and body; undefined for a packet that is not one. */
export function decodeReply(packet: Buffer): Reply | undefined {
  if (packet.length < REPLY_HEADER) return undefined;
  const kind = packet.readUInt32LE(4);
  if (kind > ReplyKind.exit) return undefined;
  return { id: packet.readUInt32LE(0), kind, value: packet.readInt32LE(8), body: packet.subarray(REPLY_HEADER) };
}

/** The NUL-terminated strings of a body. */
export function bodyStrings(body: Buffer): string[] {
  if (!body.length) return [];
  if (body[body.length - 1] !== 0) throw new SystemError('EPROTO', 'the init sent an unterminated string');
  return body.subarray(0, body.length - 1).toString('utf8').split('\0');
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The errno name for a number the init reported (EIO for one this platform does not know). */
export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? 'EIO';
}

/** A wait status (waitpid) as an exit code or a signal. */
export function decodeWaitStatus(status: number): { code: number | null; signal: NodeJS.Signals | null } {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  const name = Object.entries(constants.signals).find(([, n]) => n === sig)?.[0] as NodeJS.Signals | undefined;
  return { code: null, signal: name ?? 'SIGKILL' };
}

// inotify masks, as the watcher reports them.
const IN_MODIFY = 0x2;
const IN_ATTRIB = 0x4;
const IN_MOVED_FROM = 0x40;
const IN_MOVED_TO = 0x80;
const IN_CREATE = 0x100;
const IN_DELETE = 0x200;
const IN_DELETE_SELF = 0x400;

/** What an inotify mask means to E2B's watchers (fsnotify's mapping); undefined for what it ignores. */
export function watchKind(mask: number): 'create' | 'write' | 'remove' | 'rename' | 'chmod' | undefined {
  if (mask & (IN_CREATE | IN_MOVED_TO)) return 'create';
  if (mask & IN_MODIFY) return 'write';
  if (mask & (IN_DELETE | IN_DELETE_SELF)) return 'remove';
  if (mask & IN_MOVED_FROM) return 'rename';
  if (mask & IN_ATTRIB) return 'chmod';
  return undefined;
}

/** Longest path a watch record may carry (PATH_MAX plus a name). */
export const MAX_WATCH_PATH = 4096 + 256;

/**
 * Splits the watcher's pipe into records (u32 mask | u32 length | path). Answers the complete
 * records and what is left over; throws on a record no watcher would write.
 */
export function parseWatchRecords(data: Buffer): { records: Array<{ mask: number; path: string }>; rest: Buffer } {
  const records: Array<{ mask: number; path: string }> = [];
  let at = 0;
  while (data.length - at >= 8) {
    const mask = data.readUInt32LE(at);
    const length = data.readUInt32LE(at + 4);
    if (length === 0 || length > MAX_WATCH_PATH) throw new SystemError('EPROTO', `watch record of ${length} bytes`);
    if (data.length - at - 8 < length) break;
    const path = data.subarray(at + 8, at + 8 + length).toString('utf8');
    if (!path.startsWith('/')) throw new SystemError('EPROTO', 'watch record without an absolute path');
    records.push({ mask, path });
    at += 8 + length;
  }
  return { records, rest: data.subarray(at) };
}

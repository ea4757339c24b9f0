import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * What a namespace sandbox is allowed, in one place: the capabilities its processes keep, the
 * seccomp profile, the host ids its user namespace maps to, and the native helper that applies
 * them (native/sandbox/wrenn-sandbox.c). docs/security.md describes each layer and its probe.
 */

/**
 * Capabilities a sandbox's processes keep — the OCI runtime spec's default set minus CAP_MKNOD
 * (device nodes can't be made in a user namespace anyway). They are capabilities over the
 * sandbox's own user namespace only: none of them means anything to the host. Everything else,
 * CAP_SYS_ADMIN (mounts, namespaces) first, is dropped from the bounding set before the first
 * program runs, so nothing inside can regain it.
 */
export const SANDBOX_CAPABILITIES = [
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'net_bind_service', 'net_raw', 'sys_chroot', 'audit_write', 'setfcap',
] as const;

/** Linux capability numbers of SANDBOX_CAPABILITIES (include/uapi/linux/capability.h). */
export const CAPABILITY_NUMBERS: Record<(typeof SANDBOX_CAPABILITIES)[number], number> = {
  chown: 0, dac_override: 1, fowner: 3, fsetid: 4, kill: 5, setgid: 6, setuid: 7, setpcap: 8,
  net_bind_service: 10, net_raw: 13, sys_chroot: 18, audit_write: 29, setfcap: 31,
};

const NATIVE_DIR = resolve(__dirname, '../../../../../native');

/** The seccomp profile (data, Docker's default semantics): every other system call fails with EPERM. */
export const SECCOMP_PROFILE = resolve(NATIVE_DIR, 'sandbox/seccomp.profile');

/** The native helper that builds and starts a sandbox (compiled by scripts/build-native.mjs). */
export function sandboxHelperPath(): string {
  const path = resolve(NATIVE_DIR, 'build/Release/wrenn-sandbox');
  if (!existsSync(path)) throw new Error(`the sandbox helper is not built (${path}): run npm run build (needs libseccomp-dev)`);
  return path;
}

/** Ids per sandbox: a whole 16-bit range, so every id a Linux distribution uses maps. */
export const IDS_PER_SANDBOX = 65_536;

/**
 * Default first host id of sandbox ranges: 2^30, above any id a host hands to its own users
 * (Debian's subordinate ids start at 100000 and grow by 65536 a user) and with room for 49,152
 * slots below 2^32.
 */
export const DEFAULT_ID_BASE = 2 ** 30;

/**
 * The host ids of range `n`: what a sandbox's root and users map to (ranges are handed out
 * host-wide by IdRanges, one per live sandbox). Files stay stored with the sandbox's own ids (0
 * for its root) and are shown through an idmapped mount, so a snapshot or template made in one
 * range starts in any other.
 */
export function idRangeOf(n: number, base = DEFAULT_ID_BASE): { hostRoot: number; count: number } {
  if (!Number.isInteger(n) || n < 0) throw new Error(`bad id range ${n}`);
  const hostRoot = base + n * IDS_PER_SANDBOX;
  if (hostRoot + IDS_PER_SANDBOX > 2 ** 32 - 1) throw new Error(`range ${n} does not fit below 2^32 from base ${base}`);
  return { hostRoot, count: IDS_PER_SANDBOX };
}

/**
 * Host users or groups whose ids fall in the sandboxes' ranges would be the same kernel identity
 * as a sandbox's users: the agent refuses to start on such a host. Answers the offending lines.
 */
export function overlappingHostIds(files: Record<string, string>, base: number, slots: number): string[] {
  const end = base + slots * IDS_PER_SANDBOX;
  const found: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    for (const line of text.split('\n')) {
      const fields = line.split(':');
      const id = Number(fields[2]);
      if (fields.length >= 3 && Number.isInteger(id) && id >= base && id < end) found.push(`${name}: ${fields[0]} (${id})`);
    }
  }
  return found;
}

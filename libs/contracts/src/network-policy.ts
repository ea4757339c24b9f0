import { isIP } from 'node:net';
import { ErrorCode, WrennError } from './errors';

/**
 * A sandbox's egress policy, as the user gives it. Entries are IPv4 addresses, IPv4 CIDRs, or
 * domain names (resolved by the host agent each time the policy is applied).
 *
 * Precedence: denyOut, then allowOut (and the operator's allowlist), then the defaults (the
 * public internet allowed, private, link-local, loopback and the host itself denied). With
 * allowInternetAccess false everything outside allowOut is denied (the DNS resolvers stay open).
 */
export interface NetworkPolicy {
  allowOut: string[];
  denyOut: string[];
  allowInternetAccess: boolean;
}

export const DEFAULT_NETWORK_POLICY: NetworkPolicy = Object.freeze({ allowOut: [], denyOut: [], allowInternetAccess: true }) as NetworkPolicy;

/** Entries per list: each becomes a firewall rule on every packet the sandbox sends. */
export const MAX_POLICY_ENTRIES = 64;

const DOMAIN_RE = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$/i;

export type EgressEntry = { kind: 'cidr'; cidr: string } | { kind: 'domain'; name: string };

/**
 * One entry read strictly: `a.b.c.d`, `a.b.c.d/n` (n 0..32, host bits allowed and cleared) or a
 * domain name. IPv6 is refused: sandboxes have no IPv6 (it is disabled in their network).
 */
export function parseEgressEntry(raw: unknown): EgressEntry | { error: string } {
  if (typeof raw !== 'string' || raw.trim() === '') return { error: 'must be a non-empty string' };
  const entry = raw.trim();
  const [address, bits, extra] = entry.split('/');
  if (extra === undefined && isIP(address) === 4) {
    const prefix = bits === undefined ? 32 : /^\d{1,2}$/.test(bits) ? Number(bits) : NaN;
    if (!(prefix >= 0 && prefix <= 32)) return { error: `"${entry}" has a bad prefix length (0-32)` };
    return { kind: 'cidr', cidr: `${networkOf(address, prefix)}/${prefix}` };
  }
  if (isIP(address) === 6) return { error: `"${entry}" is IPv6; sandboxes have no IPv6` };
  if (bits === undefined && DOMAIN_RE.test(entry) && !/^[\d.]+$/.test(entry)) return { kind: 'domain', name: entry.toLowerCase().replace(/\.$/, '') };
  return { error: `"${entry}" is neither an IPv4 address, an IPv4 CIDR nor a domain name` };
}

function networkOf(ip: string, prefix: number): string {
  const n = ip.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
  const mask = prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix);
  const net = Number((BigInt(n) & BigInt(mask)));
  return [24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.');
}

/**
 * Checks and normalises a policy; every problem is reported (field → message), nothing is
 * partially taken. Missing lists are empty, a missing allowInternetAccess is true.
 */
export function normaliseNetworkPolicy(input: { allowOut?: unknown; denyOut?: unknown; allowInternetAccess?: unknown }): { policy: NetworkPolicy } | { problems: Record<string, string> } {
  const problems: Record<string, string> = {};
  const list = (field: 'allowOut' | 'denyOut', value: unknown): string[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      problems[field] = 'must be an array of strings';
      return [];
    }
    if (value.length > MAX_POLICY_ENTRIES) problems[field] = `at most ${MAX_POLICY_ENTRIES} entries`;
    const out: string[] = [];
    value.forEach((raw, i) => {
      const parsed = parseEgressEntry(raw);
      if ('error' in parsed) problems[`${field}[${i}]`] = parsed.error;
      else out.push(parsed.kind === 'cidr' ? parsed.cidr : parsed.name);
    });
    return [...new Set(out)];
  };
  const allowOut = list('allowOut', input.allowOut);
  const denyOut = list('denyOut', input.denyOut);
  const internet = input.allowInternetAccess;
  if (internet !== undefined && internet !== null && typeof internet !== 'boolean') problems.allowInternetAccess = 'must be a boolean';
  if (Object.keys(problems).length) return { problems };
  return { policy: { allowOut, denyOut, allowInternetAccess: internet !== false } };
}

/**
 * The policy checked and normalised, or 400 validation_failed naming every problem
 * (details.fields: field → message): the one refusal the scheduler, the decider and the host
 * agent give. Something that is not an object is refused as a missing allowOut.
 */
export function requireNetworkPolicy(input: unknown): NetworkPolicy {
  const result = normaliseNetworkPolicy(typeof input === 'object' && input !== null ? input : { allowOut: 'missing' });
  if ('problems' in result) {
    throw new WrennError(ErrorCode.ValidationFailed, `bad network policy: ${Object.entries(result.problems).map(([k, v]) => `${k} ${v}`).join('; ')}`, { fields: result.problems });
  }
  return result.policy;
}

export function samePolicy(a: NetworkPolicy, b: NetworkPolicy): boolean {
  return a.allowInternetAccess === b.allowInternetAccess && a.allowOut.join(',') === b.allowOut.join(',') && a.denyOut.join(',') === b.denyOut.join(',');
}

export function isDefaultPolicy(p: NetworkPolicy): boolean {
  return samePolicy(p, DEFAULT_NETWORK_POLICY);
}

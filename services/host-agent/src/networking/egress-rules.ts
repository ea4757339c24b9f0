/**
 * What a sandbox may send, as the elements its address puts into the agent's egress sets (see
 * nft-ruleset.ts: one chain for every sandbox, evaluated for every packet it sends through the
 * host, not only new connections, so a policy change takes effect on connections already open).
 *
 * Order of the chain (first match wins): the sandbox's denyOut, then its allowOut and the
 * operator's allowlist, then the DNS resolvers on port 53, then — with the internet off —
 * everything else refused; otherwise the ranges below refused and the rest (the public internet)
 * allowed.
 *
 * Traffic to the host's own addresses never gets here: it is local, so it meets the agent's
 * input chain, which refuses all of it but replies to what the host began.
 */

/** Never reachable by default: RFC 1918, CGNAT, loopback, link-local (metadata), "this network", special and multicast ranges. */
export const DEFAULT_DENIED_RANGES: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

export interface ResolvedEgress {
  /** CIDRs, domain names already resolved. */
  denyOut: string[];
  allowOut: string[];
  allowInternetAccess: boolean;
}

/** One sandbox's share of the egress sets: destination CIDRs refused and allowed, and whether it is cut off from the internet. */
export interface EgressElements {
  deny: string[];
  allow: string[];
  noInternet: boolean;
}

function parseCidr(cidr: string): { start: number; prefix: number } {
  const [address, bits] = cidr.split('/');
  const parts = address.split('.').map(Number);
  const prefix = bits === undefined ? 32 : Number(bits);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new Error(`"${cidr}" is not an IPv4 address or CIDR`);
  }
  const n = parts.reduce((acc, p) => acc * 256 + p, 0);
  const size = 2 ** (32 - prefix);
  return { start: n - (n % size), prefix };
}

const formatIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/**
 * CIDRs as an interval set accepts them: host bits cleared, duplicates and CIDRs inside another
 * one of the list dropped (two CIDRs either nest or are disjoint, so what is left never
 * overlaps; the kernel refuses overlapping elements). The same addresses match as before.
 */
export function disjointCidrs(cidrs: readonly string[]): string[] {
  const parsed = [...new Map(cidrs.map((c) => parseCidr(c)).map((c) => [`${c.start}/${c.prefix}`, c])).values()].sort((a, b) => a.prefix - b.prefix || a.start - b.start);
  const kept: Array<{ start: number; prefix: number }> = [];
  for (const c of parsed) {
    const inside = kept.some((k) => c.start >= k.start && c.start < k.start + 2 ** (32 - k.prefix));
    if (!inside) kept.push(c);
  }
  return kept.sort((a, b) => a.start - b.start || a.prefix - b.prefix).map((c) => `${formatIp(c.start)}/${c.prefix}`);
}

export function egressElements(policy: ResolvedEgress): EgressElements {
  return { deny: disjointCidrs(policy.denyOut), allow: disjointCidrs(policy.allowOut), noInternet: !policy.allowInternetAccess };
}

/**
 * What a sandbox may send, as iptables rule arguments for its own egress chain (evaluated for
 * every packet it sends through the host, not only new connections, so a policy change takes
 * effect on connections already open).
 *
 * Order (first match wins): the user's denyOut, then the user's allowOut and the operator's
 * allowlist, then the DNS resolvers on port 53, then — with the internet off — everything else
 * refused; otherwise the ranges below refused and the rest (the public internet) allowed.
 *
 * Traffic to the host's own addresses never gets here: it is local, so it meets the agent's
 * INPUT rules, which refuse all of it but replies to what the host began.
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

/** icmp-admin-prohibited: the sandbox's connect fails at once (EHOSTUNREACH) instead of hanging. */
export const REFUSE = ['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];

export interface ResolvedEgress {
  /** CIDRs, domain names already resolved. */
  denyOut: string[];
  allowOut: string[];
  allowInternetAccess: boolean;
}

export function egressRules(policy: ResolvedEgress, resolvers: readonly string[]): string[][] {
  const rules: string[][] = [];
  for (const cidr of policy.denyOut) rules.push(['-d', cidr, ...REFUSE]);
  for (const cidr of policy.allowOut) rules.push(['-d', cidr, '-j', 'ACCEPT']);
  for (const ip of resolvers) for (const proto of ['udp', 'tcp']) rules.push(['-d', ip, '-p', proto, '--dport', '53', '-j', 'ACCEPT']);
  if (!policy.allowInternetAccess) rules.push(REFUSE);
  else {
    for (const cidr of DEFAULT_DENIED_RANGES) rules.push(['-d', cidr, ...REFUSE]);
    rules.push(['-j', 'ACCEPT']);
  }
  return rules;
}

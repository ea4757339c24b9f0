import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';

/**
 * resolv.conf for sandboxes: the host's own nameservers, minus loopback ones (a resolver on the
 * host's 127.0.0.x is unreachable from a sandbox's network namespace), else the fallback.
 */
export function sandboxResolvConf(hostResolvConf = readHostResolvConf(), fallback: string[] = ['1.1.1.1', '8.8.8.8']): string {
  const chosen = sandboxResolvers(hostResolvConf, fallback);
  return `# written by wrenn\n${chosen.map((ip) => `nameserver ${ip}`).join('\n')}\noptions timeout:2 attempts:2\n`;
}

/**
 * The resolvers sandboxes use: the host's IPv4 nameservers but loopback ones, else the fallback.
 * The egress policy opens exactly these on port 53, even in private ranges. IPv6 ones are left
 * out: sandboxes have no IPv6.
 */
export function sandboxResolvers(hostResolvConf = readHostResolvConf(), fallback: string[] = ['1.1.1.1', '8.8.8.8']): string[] {
  const servers = hostResolvConf
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    .filter((ip): ip is string => !!ip && isIPv4(ip) && !/^127\./.test(ip));
  return [...new Set(servers.length ? servers : fallback)];
}

export function readHostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

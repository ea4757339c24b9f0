import { readFileSync } from 'node:fs';

/**
 * resolv.conf for sandboxes: the host's own nameservers, minus loopback ones (a resolver on the
 * host's 127.0.0.x is unreachable from a sandbox's network namespace), else the fallback.
 */
export function sandboxResolvConf(hostResolvConf = readHostResolvConf(), fallback: string[] = ['1.1.1.1', '8.8.8.8']): string {
  const servers = hostResolvConf
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    .filter((ip): ip is string => !!ip && !/^127\./.test(ip) && ip !== '::1');
  const chosen = servers.length ? servers : fallback;
  return `# written by wrenn\n${chosen.map((ip) => `nameserver ${ip}`).join('\n')}\noptions timeout:2 attempts:2\n`;
}

function readHostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

import { EnvdClient } from './envd.client';
import { initEnvdAccessToken } from './envd-token';

/** What a sandbox's start needs from its envd before the sandbox is handed out. */
export interface EnvdSessionPlan {
  /** Where envd answers (the sandbox's address on its slot). */
  url: string;
  /** The token envd is to demand from now on. */
  token: string;
  /**
   * 'at-boot': envd read it from its environment; 'after-boot': it is handed over by /init,
   * with `current` the token envd still holds (one restored from a template's memory); 'held':
   * envd kept it in its memory (a resumed microVM).
   */
  delivery: 'at-boot' | 'after-boot' | 'held';
  current?: string;
  /** A guest restored from someone else's memory gets its own identity (hostname, hosts, resolv.conf). */
  identity?: { sandboxId: string; nameservers: string[] };
}

export interface EnvdSessions {
  /** Waits until envd answers, then gives it its token and identity; all or nothing for the start. */
  open(plan: EnvdSessionPlan): Promise<void>;
}

export interface EnvdSessionOptions {
  timeoutMs?: number;
  pollMs?: number;
  /** Waits until envd answers at `url` (default: envd's /health, polled). */
  waitForEnvd?: (url: string, timeoutMs: number) => Promise<void>;
  /** Hands envd its token (default: E2B's POST /init). */
  initEnvd?: (url: string, token: string, current: string | undefined) => Promise<void>;
  /** Gives a guest its identity through envd (default: a shell command as root). */
  setIdentity?: (url: string, sandboxId: string, nameservers: string[], accessToken: string) => Promise<void>;
}

/** What wrenn-init does at boot for hostname, hosts and resolv.conf, done again in a running guest. */
export const IDENTITY_SCRIPT = String.raw`
set -eu
printf %s "$1" > /proc/sys/kernel/hostname
printf '%s\n' "$1" > /etc/hostname
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n' "$1" > /etc/hosts
shift
: > /etc/resolv.conf
for server in "$@"; do echo "nameserver $server" >> /etc/resolv.conf; done
echo "options timeout:2 attempts:2" >> /etc/resolv.conf
`;

/** envd sessions over HTTP: health, /init, and the identity command. */
export class EnvdSessionOpener implements EnvdSessions {
  constructor(private readonly options: EnvdSessionOptions = {}) {}

  async open(plan: EnvdSessionPlan): Promise<void> {
    const timeout = this.options.timeoutMs ?? 10_000;
    if (this.options.waitForEnvd) await this.options.waitForEnvd(plan.url, timeout);
    else {
      const envd = new EnvdClient(plan.url);
      try {
        await envd.waitHealthy(timeout, this.options.pollMs);
      } finally {
        envd.close();
      }
    }
    // A booted envd takes the first token it is given; one from a template's memory still holds
    // the template source's, and only that one lets the new token in.
    if (plan.delivery === 'after-boot') await (this.options.initEnvd ?? initEnvdAccessToken)(plan.url, plan.token, plan.current);
    if (plan.identity) await (this.options.setIdentity ?? setIdentityThroughEnvd)(plan.url, plan.identity.sandboxId, plan.identity.nameservers, plan.token);
  }
}

async function setIdentityThroughEnvd(envdUrl: string, sandboxId: string, nameservers: string[], accessToken: string): Promise<void> {
  const envd = new EnvdClient(envdUrl, accessToken);
  try {
    const r = await envd.exec({ cmd: '/bin/sh', args: ['-c', IDENTITY_SCRIPT, 'wrenn-identity', sandboxId, ...nameservers], user: 'root' }, 10);
    if (r.exitCode !== 0) throw new Error(`setting the sandbox identity failed (${r.exitCode}): ${r.stderr.trim()}`);
  } finally {
    envd.close();
  }
}

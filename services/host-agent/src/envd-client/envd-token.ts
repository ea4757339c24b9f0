import { randomBytes } from 'node:crypto';
import { DEFAULT_ENVD_ERROR_BODY_MAX, readBoundedFetch } from './bounded-body';

/**
 * envd's access token, per sandbox. envd runs as root inside the sandbox and starts processes as
 * any user; it obeys only requests that carry this token, and only the host agent holds it (in
 * the sandbox's meta, under a root-only directory). So a process inside the sandbox cannot drive
 * envd, whatever user it runs as.
 *
 * It is not the token E2B's SDKs send: the gateway checks theirs and drops it, and the agent
 * puts this one on every request it passes to envd.
 */

/** The header envd reads the token from (E2B's). */
export const ENVD_ACCESS_TOKEN_HEADER = 'x-access-token';

/** A new token: 32 random bytes, base64url (43 characters). */
export function newEnvdAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The environment variable that hands a namespace sandbox's envd its token at start. An
 * environment variable rather than a file or a pipe because it survives every exec between the
 * agent and envd (the cgroup join, nsenter, unshare, the init, tini) while those close every fd
 * they inherit, and inside the sandbox /proc/<pid>/environ of envd and of PID 1 (tini) is readable
 * only by their own uid, root — which envd serves anyway. envd deletes it from its environment
 * before it starts anything, and gives the commands it starts an environment of their own.
 */
export function envdTokenEnv(token: string): { ENVD_ACCESS_TOKEN: string } {
  return { ENVD_ACCESS_TOKEN: token };
}

/**
 * Hands a VM's envd its token through E2B's POST /init, once envd answers /health. A fresh envd
 * takes the first token it is given; one resumed from a snapshot of another sandbox (a template)
 * still holds that sandbox's token, which `current` must name for envd to accept the new one.
 */
export async function initEnvdAccessToken(envdUrl: string, token: string, current?: string, timeoutMs = 10_000, bodyMax = DEFAULT_ENVD_ERROR_BODY_MAX): Promise<void> {
  const res = await fetch(new URL('/init', envdUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(current ? { [ENVD_ACCESS_TOKEN_HEADER]: current } : {}) },
    body: JSON.stringify({ accessToken: token }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 204 && res.status !== 200) {
    const body = await readBoundedFetch(res, bodyMax).catch(() => undefined);
    let reason: string | undefined;
    try {
      if (body && !body.truncated) reason = (JSON.parse(body.text) as { reason?: string }).reason;
    } catch {
      /* not JSON */
    }
    throw new Error(`envd refused its access token: ${res.status}${reason ? ` ${reason}` : ''}`);
  }
  await res.body?.cancel();
}

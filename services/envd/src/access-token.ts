import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The header E2B's SDKs and the host agent send envd's access token in. */
export const ACCESS_TOKEN_HEADER = 'x-access-token';

/** Stable reasons in a refusal's body, for clients to branch on. */
export type RefusalReason = 'access_token_missing' | 'access_token_invalid' | 'access_token_not_set';

/**
 * The token envd checks every request against. Only the host knows it: it is handed over at start
 * (an environment variable of envd's own process, readable inside the sandbox only by root, which
 * owns envd anyway) or by the host's first POST /init (a VM, as E2B's orchestrator does it).
 *
 * Until a token is set envd refuses everything but /health and the /init that sets one: a sandbox
 * whose host never delivered a token fails closed instead of taking orders from any process in it.
 */
export class AccessToken {
  private token: Buffer | undefined;

  constructor(initial?: string) {
    if (initial) this.token = Buffer.from(initial);
  }

  get isSet(): boolean {
    return this.token !== undefined;
  }

  set(token: string): void {
    if (!token) throw new Error('an empty access token');
    this.token = Buffer.from(token);
  }

  /** Why `req` may not pass, or undefined when it carries the token (compared in constant time). */
  check(req: IncomingMessage): RefusalReason | undefined {
    return this.checkValue(req.headers[ACCESS_TOKEN_HEADER]);
  }

  /** As check, for the header's value alone (a Connect call's headers). */
  checkValue(given: string | string[] | null | undefined): RefusalReason | undefined {
    if (!this.token) return 'access_token_not_set';
    if (typeof given !== 'string' || given === '') return 'access_token_missing';
    const b = Buffer.from(given);
    // timingSafeEqual needs equal lengths; the length of a random token is no secret.
    return b.length === this.token.length && timingSafeEqual(b, this.token) ? undefined : 'access_token_invalid';
  }
}

const CONNECT_PATH = /^\/[a-z]+\.[A-Za-z]+\/[A-Za-z]+$/;

/**
 * 401 with a body a client can read by machine: Connect's error JSON on Connect paths (so Connect
 * clients report `unauthenticated`), envd's `{code, message}` with a `reason` on its HTTP paths.
 * It names no user, path or process: the caller learns nothing but that it was refused.
 */
export function refuse(req: IncomingMessage, res: ServerResponse, reason: RefusalReason): void {
  const message = reason === 'access_token_not_set' ? 'envd has no access token yet' : 'missing or invalid X-Access-Token';
  const path = new URL(req.url ?? '/', 'http://envd').pathname;
  const body = CONNECT_PATH.test(path) ? { code: 'unauthenticated', message, details: [], reason } : { code: 401, message, reason };
  // The refused body (an upload, a request stream) is read and dropped, never parsed: closing the
  // connection under a client still sending it would cost the client its 401 (a write error).
  req.resume();
  res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

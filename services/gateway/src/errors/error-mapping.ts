import { HttpException } from '@nestjs/common';
import { ErrorBody, ErrorCode, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import type { Response } from 'express';
import { randomBytes } from 'node:crypto';
import { HTTP_STATUS } from './http-status';

/**
 * Any exception as an HTTP status and a Wrenn error body: the one mapping both surfaces use
 * (Wrenn's {"error": …} and E2B's {"code": <status>, …} differ only in how they write it).
 * Framework errors (unknown route, malformed JSON) fold into the same codes; anything unexpected
 * is a 500 `internal`.
 */
export function describeError(exception: unknown): { status: number; body: ErrorBody } {
  if (exception instanceof WrennError) {
    return { status: HTTP_STATUS[exception.code] ?? 500, body: exception.toBody() };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return { status, body: { code: ErrorCode.NotFound, message: 'no such route' } };
    if (status === 401) return { status, body: { code: ErrorCode.Unauthorized, message: 'authentication is required' } };
    if (status === 413) return { status, body: { code: ErrorCode.ValidationFailed, message: 'request body too large' } };
    if (status >= 400 && status < 500) {
      return { status: 400, body: { code: ErrorCode.ValidationFailed, message: exception.message } };
    }
  }
  // body-parser's errors carry a status and a type (e.g. entity.parse.failed).
  const e = exception as { status?: number; type?: string; message?: string };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: 400, body: { code: ErrorCode.ValidationFailed, message: e.type === 'entity.parse.failed' ? 'request body is not valid JSON' : e.message ?? 'bad request' } };
  }
  return { status: 500, body: { code: ErrorCode.Internal, message: 'internal error' } };
}

/**
 * The status and body a caller is shown. A server-side failure (5xx) keeps what failed inside
 * (a host's error text, a database message) in the log under a request id the caller can quote;
 * the caller learns the code and that id. Sets x-request-id and, for rate limits, retry-after.
 */
export function publicError(exception: unknown, res: Response, log: Logger, what: string): { status: number; body: ErrorBody } {
  const { status, body: full } = describeError(exception);
  let body = full;
  if (status >= 500) {
    const requestId = newRequestId();
    log.error({ err: exception, code: full.code, requestId, message: full.message, details: full.details }, what);
    body = genericBody(full, requestId);
    if (!res.headersSent) res.setHeader('x-request-id', requestId);
  }
  const retryAfter = body.details?.retry_after_sec;
  if (!res.headersSent && body.code === ErrorCode.RateLimited && typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
  return { status, body };
}

/** An id for one failed request, quoted in its answer and its log line. */
export function newRequestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}

/**
 * Server-side failures as callers see them: the code, a fixed message, the request id, and the
 * sandbox concerned; for host_full also what the hosts are full of, which is the caller's to act on.
 */
export function genericBody(full: ErrorBody, requestId: string): ErrorBody {
  const sandboxId = full.details?.sandbox_id;
  const resource = full.code === ErrorCode.HostFull && (full.details?.resource === 'memory' || full.details?.resource === 'sandboxes') ? full.details.resource : undefined;
  const message = resource ? FULL_MESSAGES[resource] : GENERIC_MESSAGES[full.code];
  return {
    code: full.code,
    message: `${message ?? 'the request failed on the server'} (request ${requestId})`,
    details: { request_id: requestId, ...(typeof sandboxId === 'string' ? { sandbox_id: sandboxId } : {}), ...(resource ? { resource } : {}) },
  };
}

const FULL_MESSAGES: Record<'memory' | 'sandboxes', string> = {
  memory: 'no host has the memory for this sandbox now: every host that could take it is full',
  sandboxes: 'no host can run another sandbox now: every host that could take it runs its most',
};

const GENERIC_MESSAGES: Partial<Record<string, string>> = {
  [ErrorCode.NoHostAvailable]: 'no live host can take this sandbox now',
  [ErrorCode.HostFull]: 'every host that could take this sandbox is full',
  [ErrorCode.HostUnavailable]: 'the host holding this sandbox is not available',
  [ErrorCode.HostTimeout]: 'the host did not answer in time',
  [ErrorCode.HostOperationFailed]: 'the host could not complete the operation',
  [ErrorCode.ExecTimeout]: 'the command did not finish in time',
  [ErrorCode.SandboxUnavailable]: 'the sandbox did not answer',
  [ErrorCode.InsufficientStorage]: 'the sandbox is out of disk space',
  [ErrorCode.ProjectionLag]: 'the change was accepted; reading it back timed out',
  [ErrorCode.ServiceUnavailable]: 'a platform service is not available',
  [ErrorCode.NotImplemented]: 'not supported here',
  [ErrorCode.Internal]: 'internal error',
};

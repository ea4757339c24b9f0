import { ErrorBody, ErrorCode } from '@wrenn/contracts';
import { randomBytes } from 'node:crypto';

/** An id for one failed request, quoted in its answer and its log line. */
export function newRequestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}

/** Server-side failures as callers see them: the code, a fixed message, the request id, and the sandbox concerned. */
export function genericBody(full: ErrorBody, requestId: string): ErrorBody {
  const sandboxId = full.details?.sandbox_id;
  return {
    code: full.code,
    message: `${GENERIC_MESSAGES[full.code] ?? 'the request failed on the server'} (request ${requestId})`,
    details: { request_id: requestId, ...(typeof sandboxId === 'string' ? { sandbox_id: sandboxId } : {}) },
  };
}

const GENERIC_MESSAGES: Partial<Record<string, string>> = {
  [ErrorCode.NoHostAvailable]: 'no live host can take this sandbox now',
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

/**
 * Stable, machine-readable error codes. Clients switch on `code`; messages are for humans.
 * The gateway maps codes to HTTP statuses in exactly one place (its error filter).
 */
export const ErrorCode = {
  ValidationFailed: 'validation_failed',
  NotFound: 'not_found',
  SandboxNotFound: 'sandbox_not_found',
  TemplateNotFound: 'template_not_found',
  TemplateExists: 'template_exists',
  TemplateInUse: 'template_in_use',
  Unauthorized: 'unauthorized',
  EmailTaken: 'email_taken',
  RateLimited: 'rate_limited',
  /** A team quota was hit; details: {limit, max, current}. */
  QuotaExceeded: 'quota_exceeded',
  /** The API key has no right to this call (read_only or sandbox scope). */
  Forbidden: 'forbidden',
  /** The API key's expires_at has passed. */
  KeyExpired: 'key_expired',
  /** Too many open streams (SSE, exec) for one API key. */
  TooManyStreams: 'too_many_streams',
  InvalidState: 'invalid_state',
  /** The sandbox is being deleted: no data-plane call reaches it any more (409). */
  SandboxDeleting: 'sandbox_deleting',
  SandboxExists: 'sandbox_exists',
  ConcurrencyConflict: 'concurrency_conflict',
  NoHostAvailable: 'no_host_available',
  /** Every host that could take the sandbox is full; details.resource says of what (`memory`, `sandboxes`). */
  HostFull: 'host_full',
  HostUnavailable: 'host_unavailable',
  HostTimeout: 'host_timeout',
  HostOperationFailed: 'host_operation_failed',
  ExecTimeout: 'exec_timeout',
  FileNotFound: 'file_not_found',
  PermissionDenied: 'permission_denied',
  SandboxUnavailable: 'sandbox_unavailable',
  InsufficientStorage: 'insufficient_storage',
  ProjectionLag: 'projection_lag',
  ServiceUnavailable: 'service_unavailable',
  NotImplemented: 'not_implemented',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** An error that crosses process boundaries: it serialises to {code, message, details}. */
export class WrennError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'WrennError';
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: ErrorBody): WrennError {
    return new WrennError(body.code, body.message, body.details);
  }
}

/** Reply shape of every request/reply exchange: never a thrown transport error for domain failures. */
export type Reply<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

export function ok<T>(value: T): Reply<T> {
  return { ok: true, value };
}

export function failed(error: unknown): Reply<never> {
  if (error instanceof WrennError) return { ok: false, error: error.toBody() };
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, error: { code: ErrorCode.Internal, message } };
}

export function unwrap<T>(reply: Reply<T>): T {
  if (reply.ok) return reply.value;
  throw WrennError.fromBody(reply.error);
}

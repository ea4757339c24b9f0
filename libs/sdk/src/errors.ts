/**
 * Every error the API answers has the shape {"error": {"code", "message", "details"?}}; the SDK
 * turns it into a WrennApiError so callers branch on `code` (stable) rather than on messages.
 */
export class WrennApiError extends Error {
  override readonly name = 'WrennApiError';

  constructor(
    /** HTTP status of the answer (or of the refused WebSocket upgrade). */
    readonly status: number,
    /** The API's machine-readable code, e.g. `sandbox_not_found`, `validation_failed`. */
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Seconds from a 429's `Retry-After`. */
    readonly retryAfterSec?: number,
  ) {
    super(message);
  }
}

/** Builds the error from an answer's status and body text; bodies that are not the API's shape keep their text as the message. */
export function apiError(status: number, text: string, retryAfter?: string | null): WrennApiError {
  let code = status >= 500 ? 'internal' : 'http_error';
  let message = text || `HTTP ${status}`;
  let details: Record<string, unknown> | undefined;
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === 'object' && typeof body.error.code === 'string') {
      code = body.error.code;
      message = String(body.error.message ?? code);
      details = body.error.details;
    }
  } catch {
    // not JSON: keep the text
  }
  const retry = retryAfter ? Number(retryAfter) : undefined;
  return new WrennApiError(status, code, message, details, Number.isFinite(retry) ? retry : undefined);
}

import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { genericBody, newRequestId } from '../errors/generic-error';
import type { Logger } from '@wrenn/logger';
import { LOGGER } from '@wrenn/service-kit';
import type { Response } from 'express';
import { HTTP_STATUS } from '../errors/http-status';

/** E2B's REST surface: everything under /e2b. */
export function isE2bPath(path: string | undefined): boolean {
  return path === '/e2b' || (path?.startsWith('/e2b/') ?? false);
}

/**
 * Errors of the E2B surface in E2B's shape, {"code": <HTTP status>, "message": "…"}, which is what
 * the SDKs read (they branch on `code === 404`, `409`…). Statuses still come from HTTP_STATUS;
 * Wrenn's own code rides along as `reason` for humans and logs.
 */
@Catch()
export class E2bErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const described = this.describe(exception);
    const { status, reason } = described;
    let message = described.message;
    if (status >= 500) {
      // As on Wrenn's own API: the inside story goes to the log under a request id.
      const requestId = newRequestId();
      this.log.error({ err: exception, reason, requestId, message }, 'E2B request failed');
      message = genericBody({ code: reason as ErrorCode, message }, requestId).message;
      if (!res.headersSent) res.setHeader('x-request-id', requestId);
    }
    if (!res.headersSent) res.status(status).json({ code: status, message, reason });
  }

  private describe(exception: unknown): { status: number; message: string; reason: string } {
    if (exception instanceof WrennError) return { status: HTTP_STATUS[exception.code] ?? 500, message: exception.message, reason: exception.code };
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return { status, message: 'no such route', reason: 'not_found' };
      if (status >= 400 && status < 500) return { status: 400, message: exception.message, reason: 'validation_failed' };
    }
    const e = exception as { status?: number; type?: string; message?: string };
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      return { status: 400, message: e.type === 'entity.parse.failed' ? 'request body is not valid JSON' : e.message ?? 'bad request', reason: 'validation_failed' };
    }
    return { status: 500, message: 'internal error', reason: 'internal' };
  }
}

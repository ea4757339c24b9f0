import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import { ErrorBody, ErrorCode, WrennError } from '@wrenn/contracts';
import type { Logger } from '@wrenn/logger';
import { LOGGER } from '@wrenn/service-kit';
import type { Request, Response } from 'express';
import { E2bErrorFilter, isE2bPath } from '../e2b/e2b-error.filter';
import { genericBody, newRequestId } from './generic-error';
import { HTTP_STATUS } from './http-status';

/**
 * Every error leaves the gateway as {"error": {"code", "message", "details"?}} with the status
 * from HTTP_STATUS. Framework errors (unknown route, malformed JSON) are folded into the same
 * shape; anything unexpected is a 500 `internal` whose details stay in the log. Under /e2b, errors
 * that never reach an E2B route (unknown paths, malformed JSON refused by the body parser) still
 * answer in E2B's shape, which is what E2B's SDKs read there.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly e2b: E2bErrorFilter;

  constructor(@Inject(LOGGER) private readonly log: Logger) {
    this.e2b = new E2bErrorFilter(log);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    if (isE2bPath(host.switchToHttp().getRequest<Request>().path)) return this.e2b.catch(exception, host);
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body: full } = this.toBody(exception);
    let body = full;
    if (status >= 500) {
      // What failed inside (a host's error text, a database message) stays in the log, under an
      // id the caller can quote; the caller learns the code and that id.
      const requestId = newRequestId();
      this.log.error({ err: exception, code: full.code, requestId, message: full.message, details: full.details }, 'request failed');
      body = genericBody(full, requestId);
      if (!res.headersSent) res.setHeader('x-request-id', requestId);
    }
    if (res.headersSent) return;
    const retryAfter = body.details?.retry_after_sec;
    if (body.code === ErrorCode.RateLimited && typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
    res.status(status).json({ error: body });
  }

  private toBody(exception: unknown): { status: number; body: ErrorBody } {
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
}

import { ArgumentsHost, Catch, ExceptionFilter, Inject } from '@nestjs/common';
import type { Logger } from '@wrenn/logger';
import { LOGGER } from '@wrenn/service-kit';
import type { Response } from 'express';
import { publicError } from '../errors/error-mapping';

/** E2B's REST surface: everything under /e2b. */
export function isE2bPath(path: string | undefined): boolean {
  return path === '/e2b' || (path?.startsWith('/e2b/') ?? false);
}

/**
 * Errors of the E2B surface in E2B's shape, {"code": <HTTP status>, "message": "…"}, which is what
 * the SDKs read (they branch on `code === 404`, `409`…). Status, code and the masking of
 * server-side failures are Wrenn's own (publicError); Wrenn's code rides along as `reason` for
 * humans and logs.
 */
@Catch()
export class E2bErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body } = publicError(exception, res, this.log, 'E2B request failed');
    if (!res.headersSent) res.status(status).json({ code: status, message: body.message, reason: body.code });
  }
}

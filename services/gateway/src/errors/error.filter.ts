import { ArgumentsHost, Catch, ExceptionFilter, Inject } from '@nestjs/common';
import type { Logger } from '@wrenn/logger';
import { LOGGER } from '@wrenn/service-kit';
import type { Request, Response } from 'express';
import { E2bErrorFilter, isE2bPath } from '../e2b/e2b-error.filter';
import { publicError } from './error-mapping';

/**
 * Every error leaves the gateway as {"error": {"code", "message", "details"?}} with the status
 * describeError gives it. Under /e2b, errors that never reach an E2B route (unknown paths,
 * malformed JSON refused by the body parser) still answer in E2B's shape, which is what E2B's
 * SDKs read there.
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
    const { status, body } = publicError(exception, res, this.log, 'request failed');
    if (!res.headersSent) res.status(status).json({ error: body });
  }
}

import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { DEFAULT_CALLER } from '../controllers/sandboxes.controller';
import { Caller } from '../services/sandboxes.service';

/**
 * Who an E2B SDK request acts for. The one place the E2B surface learns its caller: today the
 * default team, as everywhere; once API keys exist, the SDK's X-API-KEY header is verified here.
 */
export function e2bCallerOf(_req: IncomingMessage): Caller {
  return DEFAULT_CALLER;
}

/** Handler parameter: the caller of the current E2B request. */
export const E2bCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => e2bCallerOf(ctx.switchToHttp().getRequest<IncomingMessage>()));

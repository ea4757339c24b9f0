import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { Caller } from './caller';

/**
 * How a route is reached. Every route needs an API key (`X-API-Key`) unless it says otherwise:
 * the guard denies by default, so a new route is protected without anyone remembering to.
 */
export const Access = {
  ApiKey: 'api_key',
  /** `Authorization: Bearer <jwt>` from POST /v1/auth/login: user and key management. */
  User: 'user',
  Public: 'public',
} as const;
export type Access = (typeof Access)[keyof typeof Access];

export const ACCESS_METADATA = 'wrenn:access';

/** Anyone may call it (health, signup, login, the docs). */
export const Public = () => SetMetadata(ACCESS_METADATA, Access.Public);

/** A user's bearer token is required instead of an API key. */
export const UserAuth = () => SetMetadata(ACCESS_METADATA, Access.User);

/** What the guard attaches to an authenticated request. */
export interface AuthenticatedRequest {
  caller?: Caller;
}

/** The authenticated caller: its team scopes everything the handler touches. */
export const CurrentCaller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const caller = ctx.switchToHttp().getRequest<AuthenticatedRequest>().caller;
  // Only a public route has no caller, and a public route has no business asking for one.
  if (!caller) throw new WrennError(ErrorCode.Unauthorized, 'authentication is required');
  return caller;
});

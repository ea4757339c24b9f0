import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { Request } from 'express';
import { Access, ACCESS_METADATA, AuthenticatedRequest } from './access.decorators';
import { ApiKeyAuthenticator } from './api-key.authenticator';
import { assertScope } from './key-scope';
import { RequestRateLimiter } from './request-rate.limiter';
import { TokenUser } from './jwt.strategy';

/**
 * The one global guard: API key unless the route says `@Public()` or `@UserAuth()` (bearer
 * token, verified by passport-jwt). It attaches the caller that `@CurrentCaller()` hands out.
 */
@Injectable()
export class AccessGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyAuthenticator,
    private readonly rate: RequestRateLimiter,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access>(ACCESS_METADATA, [context.getHandler(), context.getClass()]) ?? Access.ApiKey;
    if (access === Access.Public) return true;
    const req = context.switchToHttp().getRequest<Request & AuthenticatedRequest & { user?: TokenUser }>();
    if (access === Access.User) {
      await super.canActivate(context);
      const user = req.user!;
      req.caller = { teamId: user.teamId, actor: { kind: 'user', id: user.userId } };
      await this.rate.hit(req.caller, req.ip);
      return true;
    }
    req.caller = await this.apiKeys.authenticate(req.headers);
    assertScope(req.caller.scope, req.method, req.path);
    await this.rate.hit(req.caller, req.ip);
    return true;
  }

  /** Passport's verdict: anything but a verified user is a 401 in the platform's error shape. */
  override handleRequest<T = TokenUser>(error: unknown, user: T | false): T {
    if (error instanceof WrennError) throw error;
    if (error || !user) throw new WrennError(ErrorCode.Unauthorized, 'a valid bearer token is required (Authorization: Bearer <token from POST /v1/auth/login>)');
    return user;
  }
}

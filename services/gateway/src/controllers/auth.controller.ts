import { Body, Controller, Get, Headers, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { CurrentCaller, Public, UserAuth } from '../auth/access.decorators';
import { LoginDto, LoginView, MeView, SignupDto, SignupView } from '../dtos/auth.dto';
import { AuthClient } from '../services/auth.client';
import type { Caller } from '../auth/caller';

/**
 * The client's address: the socket's peer, or — only when the operator named trusted proxies
 * (WRENN_TRUST_PROXY) — the address those proxies put in X-Forwarded-For.
 */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** Accounts: sign up (a user and their team), log in (a bearer token), who am I. */
@Controller('v1')
export class AuthController {
  constructor(private readonly auth: AuthClient) {}

  @Post('auth/signup')
  @Public()
  @HttpCode(202)
  async signup(@Body() body: SignupDto, @Req() req: Request, @Headers('x-correlation-id') correlationId?: string): Promise<SignupView> {
    const r = await this.auth.signup({ email: body.email, password: body.password, address: clientAddress(req), correlationId: correlationId?.slice(0, 128) || randomUUID() });
    // The same answer whether the email was new or taken: log in to continue.
    return { email: r.email, status: 'accepted', message: 'if this email had no account, it has one now: log in to continue' };
  }

  @Post('auth/login')
  @Public()
  @HttpCode(200)
  async login(@Body() body: LoginDto, @Req() req: Request): Promise<LoginView> {
    const r = await this.auth.login({ email: body.email, password: body.password, address: clientAddress(req) });
    return { token: r.token, token_type: 'Bearer', expires_in: r.expiresIn, user_id: r.userId, team_id: r.teamId };
  }

  @Get('me')
  @UserAuth()
  async me(@CurrentCaller() caller: Caller): Promise<MeView> {
    const r = await this.auth.me({ userId: caller.actor.id });
    return {
      user_id: r.userId,
      email: r.email,
      created_at: r.createdAt,
      team_id: caller.teamId,
      teams: r.teams.map((t) => ({ team_id: t.teamId, name: t.name, role: t.role })),
    };
  }
}

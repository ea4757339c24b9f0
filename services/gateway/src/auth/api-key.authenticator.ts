import { Injectable } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthClient } from '../services/auth.client';
import type { Caller } from './caller';

/**
 * Turns an `X-API-Key` header into the caller it stands for. Every request asks the auth service
 * (one indexed lookup): nothing is cached, so a revoked key fails on its very next call.
 */
@Injectable()
export class ApiKeyAuthenticator {
  constructor(private readonly auth: AuthClient) {}

  async authenticate(headers: IncomingHttpHeaders): Promise<Caller> {
    const raw = headers['x-api-key'];
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (!key) throw new WrennError(ErrorCode.Unauthorized, 'an X-API-Key header is required');
    const verified = await this.auth.verifyApiKey(key);
    return { teamId: verified.teamId, actor: { kind: 'api_key', id: verified.keyId }, scope: verified.scope ?? 'full' };
  }
}

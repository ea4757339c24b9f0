import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiKeyInfo } from '@wrenn/contracts';
import { randomUUID } from 'node:crypto';
import { CurrentCaller, UserAuth } from '../auth/access.decorators';
import { ApiKeyAuthenticator } from '../auth/api-key.authenticator';
import { ApiKeyView, CreateApiKeyDto, CreatedApiKeyView } from '../dtos/auth.dto';
import { AuthClient } from '../services/auth.client';
import type { Caller } from '../auth/caller';
import type { JsonAnswer } from '../dtos/wire';

function toView(k: ApiKeyInfo): ApiKeyView {
  return { id: k.id, name: k.name, prefix: k.prefix, team_id: k.teamId, created_by: k.createdBy, created_at: k.createdAt, scope: k.scope, expires_at: k.expiresAt };
}

/** The team's API keys, managed with a user's bearer token. */
@Controller('v1/api-keys')
@UserAuth()
export class ApiKeysController {
  constructor(
    private readonly auth: AuthClient,
    private readonly apiKeys: ApiKeyAuthenticator,
  ) {}

  @Post()
  @HttpCode(201)
  async create(@CurrentCaller() caller: Caller, @Body() body: CreateApiKeyDto, @Headers('x-correlation-id') correlationId?: string): Promise<CreatedApiKeyView> {
    const k = await this.auth.createApiKey({ userId: caller.actor.id, teamId: caller.teamId, name: body.name, correlationId: correlationId?.slice(0, 128) || randomUUID(),
      ...(body.scope ? { scope: body.scope } : {}),
      ...(body.expires_at ? { expiresAt: new Date(body.expires_at).toISOString() } : {}),
    });
    return { ...toView(k), key: k.key };
  }

  @Get()
  async list(@CurrentCaller() caller: Caller): Promise<JsonAnswer<'/v1/api-keys', 'get'>> {
    return { api_keys: (await this.auth.listApiKeys({ userId: caller.actor.id, teamId: caller.teamId })).map(toView) };
  }

  @Delete(':id')
  async revoke(@CurrentCaller() caller: Caller, @Param('id') id: string, @Headers('x-correlation-id') correlationId?: string): Promise<JsonAnswer<'/v1/api-keys/{id}', 'delete'>> {
    await this.auth.revokeApiKey({ userId: caller.actor.id, teamId: caller.teamId, keyId: id, correlationId: correlationId?.slice(0, 128) || randomUUID() });
    // Every gateway evicts on the auth service's broadcast; this one does not wait for it, so a
    // call through it right after this answer is refused whatever NATS delivers when.
    this.apiKeys.forget(id);
    return { id, revoked: true };
  }
}

import { Injectable } from '@nestjs/common';
import {
  Aggregate,
  API_KEY_ID_RE,
  API_KEY_RE,
  ApiKeyInfo,
  ApiKeyScope,
  API_KEY_SCOPES,
  CreateApiKeyRequest,
  CreatedApiKey,
  ErrorCode,
  IdentityEvent,
  ListApiKeysRequest,
  RevokeApiKeyRequest,
  VerifiedApiKey,
  VerifyApiKeyRequest,
  WrennError,
} from '@wrenn/contracts';
import { ulid } from 'ulid';
import { generateApiKey, hashApiKey } from '../crypto/api-key';
import { OutboxRelay } from '../outbox/outbox.relay';
import { ApiKeyInvalidations } from './api-key-invalidations';
import { ApiKeyRepository } from '../repositories/api-key.repository';
import { IdentityOutboxRepository } from '../repositories/identity-outbox.repository';
import { IdentityRepository } from '../repositories/identity.repository';

/**
 * API keys of a team. Verification reads PostgreSQL on every call; gateways cache its verdicts
 * briefly, so every change that makes a key invalid (today: revocation) is announced through
 * ApiKeyInvalidations before it is answered.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly identities: IdentityRepository,
    private readonly relay: OutboxRelay,
    private readonly outbox: IdentityOutboxRepository,
    private readonly invalidations: ApiKeyInvalidations,
  ) {}

  private async requireMember(userId: string, teamId: string): Promise<void> {
    if (!(await this.identities.isMember(userId, teamId))) {
      throw new WrennError(ErrorCode.Unauthorized, 'the token’s user is not a member of its team');
    }
  }

  async create(request: CreateApiKeyRequest): Promise<CreatedApiKey> {
    await this.requireMember(request.userId, request.teamId);
    const scope = request.scope ?? ApiKeyScope.Full;
    if (!API_KEY_SCOPES.includes(scope)) throw new WrennError(ErrorCode.ValidationFailed, `scope must be one of ${API_KEY_SCOPES.join(', ')}`);
    const expiresAt = request.expiresAt ?? null;
    if (expiresAt !== null && !(Date.parse(expiresAt) > Date.now())) throw new WrennError(ErrorCode.ValidationFailed, 'expires_at must be a time in the future');
    const { key, prefix, hash } = generateApiKey();
    const id = `key_${ulid().toLowerCase()}`;
    const info = await this.identities.transaction(async (tx) => {
      const row = await this.keys.insert(tx, { id, teamId: request.teamId, createdBy: request.userId, name: request.name, prefix, hash, scope, expiresAt });
      await this.outbox.enqueue(tx, [
        {
          aggregate: Aggregate.Team,
          aggregateId: request.teamId,
          type: IdentityEvent.ApiKeyCreated,
          data: { keyId: id, name: request.name, prefix, createdBy: request.userId, scope, ...(expiresAt ? { expiresAt } : {}) },
          actor: { kind: 'user', id: request.userId },
          teamId: request.teamId,
          correlationId: request.correlationId,
        },
      ]);
      return row;
    });
    await this.relay.flush();
    return { ...info, key };
  }

  async list(request: ListApiKeysRequest): Promise<ApiKeyInfo[]> {
    await this.requireMember(request.userId, request.teamId);
    return this.keys.listActive(request.teamId);
  }

  async revoke(request: RevokeApiKeyRequest): Promise<{ id: string }> {
    await this.requireMember(request.userId, request.teamId);
    const notFound = () => new WrennError(ErrorCode.NotFound, `api key ${request.keyId} not found`);
    if (!API_KEY_ID_RE.test(request.keyId)) throw notFound();
    await this.identities.transaction(async (tx) => {
      if (!(await this.keys.revoke(tx, request.teamId, request.keyId))) throw notFound();
      await this.outbox.enqueue(tx, [
        {
          aggregate: Aggregate.Team,
          aggregateId: request.teamId,
          type: IdentityEvent.ApiKeyRevoked,
          data: { keyId: request.keyId },
          actor: { kind: 'user', id: request.userId },
          teamId: request.teamId,
          correlationId: request.correlationId,
        },
      ]);
    });
    await this.invalidations.publish({ keyIds: [request.keyId] });
    await this.relay.flush();
    return { id: request.keyId };
  }

  async verify(request: VerifyApiKeyRequest): Promise<VerifiedApiKey> {
    const found = typeof request.key === 'string' && API_KEY_RE.test(request.key) ? await this.keys.findActiveByHash(hashApiKey(request.key)) : null;
    if (!found) throw new WrennError(ErrorCode.Unauthorized, 'the API key is not valid');
    if (found.expired) throw new WrennError(ErrorCode.KeyExpired, 'the API key has expired');
    return { keyId: found.keyId, teamId: found.teamId, scope: found.scope, ...(found.expiresInMs === null ? {} : { expiresInMs: found.expiresInMs }) };
  }
}

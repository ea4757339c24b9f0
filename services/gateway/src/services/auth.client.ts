import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import {
  ApiKeyInfo,
  AuthCommand,
  CreateApiKeyRequest,
  CreatedApiKey,
  ListApiKeysRequest,
  LoginRequest,
  LoginResult,
  MeRequest,
  MeResult,
  Naming,
  RevokeApiKeyRequest,
  ServiceName,
  SignupRequest,
  SignupResult,
  VerifiedApiKey,
} from '@wrenn/contracts';
import { sendCommand } from '@wrenn/messaging';
import { NAMING } from '@wrenn/service-kit';

export const AUTH_CLIENT = 'wrenn.auth-client';

/** The auth service over NATS request/reply: the gateway holds no identity data of its own. */
@Injectable()
export class AuthClient implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(AUTH_CLIENT) private readonly client: ClientProxy,
    @Inject(NAMING) private readonly naming: Naming,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.client.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }

  private send<T>(command: AuthCommand, payload: unknown, timeoutMs = 10_000): Promise<T> {
    return sendCommand<T>(this.client, this.naming.commandSubject(ServiceName.Auth, command), payload, timeoutMs, 'the auth service');
  }

  signup(request: SignupRequest): Promise<SignupResult> {
    return this.send(AuthCommand.Signup, request, 20_000);
  }

  login(request: LoginRequest): Promise<LoginResult> {
    return this.send(AuthCommand.Login, request, 20_000);
  }

  me(request: MeRequest): Promise<MeResult> {
    return this.send(AuthCommand.Me, request);
  }

  createApiKey(request: CreateApiKeyRequest): Promise<CreatedApiKey> {
    return this.send(AuthCommand.CreateApiKey, request);
  }

  listApiKeys(request: ListApiKeysRequest): Promise<ApiKeyInfo[]> {
    return this.send(AuthCommand.ListApiKeys, request);
  }

  revokeApiKey(request: RevokeApiKeyRequest): Promise<{ id: string }> {
    return this.send(AuthCommand.RevokeApiKey, request);
  }

  verifyApiKey(key: string): Promise<VerifiedApiKey> {
    return this.send(AuthCommand.VerifyApiKey, { key });
  }
}

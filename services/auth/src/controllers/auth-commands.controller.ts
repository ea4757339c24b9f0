import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { variable } from '@wrenn/config';
import {
  ApiKeyInfo,
  AuthCommand,
  CreateApiKeyRequest,
  CreatedApiKey,
  failed,
  ListApiKeysRequest,
  LoginRequest,
  LoginResult,
  MeRequest,
  MeResult,
  naming,
  ok,
  Reply,
  RevokeApiKeyRequest,
  ServiceName,
  SignupRequest,
  SignupResult,
  VerifiedApiKey,
  VerifyApiKeyRequest,
} from '@wrenn/contracts';
import { ApiKeysService } from '../services/api-keys.service';
import { IdentityService } from '../services/identity.service';

// Patterns are resolved when the module loads: WRENN_NS must be set before the service boots.
const subjects = naming(variable('WRENN_NS'));
const subject = (command: AuthCommand) => subjects.commandSubject(ServiceName.Auth, command);

/** Identity commands from the gateway; replies are Reply envelopes, never transport errors. */
@Controller()
export class AuthCommandsController {
  constructor(
    private readonly identity: IdentityService,
    private readonly apiKeys: ApiKeysService,
  ) {}

  @MessagePattern(subject(AuthCommand.Signup))
  signup(@Payload() request: SignupRequest): Promise<Reply<SignupResult>> {
    return this.identity.signup(request).then(ok, failed);
  }

  @MessagePattern(subject(AuthCommand.Login))
  login(@Payload() request: LoginRequest): Promise<Reply<LoginResult>> {
    return this.identity.login(request).then(ok, failed);
  }

  @MessagePattern(subject(AuthCommand.Me))
  me(@Payload() request: MeRequest): Promise<Reply<MeResult>> {
    return this.identity.me(request).then(ok, failed);
  }

  @MessagePattern(subject(AuthCommand.CreateApiKey))
  createApiKey(@Payload() request: CreateApiKeyRequest): Promise<Reply<CreatedApiKey>> {
    return this.apiKeys.create(request).then(ok, failed);
  }

  @MessagePattern(subject(AuthCommand.ListApiKeys))
  listApiKeys(@Payload() request: ListApiKeysRequest): Promise<Reply<ApiKeyInfo[]>> {
    return this.apiKeys.list(request).then(ok, failed);
  }

  @MessagePattern(subject(AuthCommand.RevokeApiKey))
  revokeApiKey(@Payload() request: RevokeApiKeyRequest): Promise<Reply<{ id: string }>> {
    return this.apiKeys.revoke(request).then(ok, failed);
  }

  @MessagePattern(subject(AuthCommand.VerifyApiKey))
  verifyApiKey(@Payload() request: VerifyApiKeyRequest): Promise<Reply<VerifiedApiKey>> {
    return this.apiKeys.verify(request).then(ok, failed);
  }
}

import { Omittable } from '../errors/validation';
import { IsEmail, IsIn, IsISO8601, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { ApiKeyScope } from '@wrenn/contracts';
import type { OpenApiComponents as components } from '@wrenn/sdk';

export class SignupDto {
  @IsString() @MaxLength(254) @IsEmail({}, { message: 'email must be an email address' })
  email!: string;

  @IsString() @MinLength(8, { message: 'password must be at least 8 characters' }) @MaxLength(256)
  password!: string;
}

export class LoginDto {
  @IsString() @MaxLength(254) @IsEmail({}, { message: 'email must be an email address' })
  email!: string;

  @IsString() @MinLength(1) @MaxLength(256)
  password!: string;
}

export class CreateApiKeyDto {
  @Omittable() @IsString() @MinLength(1) @MaxLength(100) @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'name must not hold control characters' })
  name: string = 'default';

  /** `full` (default), `sandbox` (sandbox and E2B calls only) or `read_only` (GET only). */
  @Omittable() @IsIn(['full', 'sandbox', 'read_only'])
  scope?: ApiKeyScope;

  /** When the key stops working (RFC 3339, in the future); absent = never. */
  @Omittable() @IsISO8601({ strict: true })
  expires_at?: string;
}

// Answers: names for the types generated from the OpenAPI document.
/** The same for a new email and a taken one (no enumeration); the ids come with the login. */
export type SignupView = components['schemas']['SignupResult'];
export type LoginView = components['schemas']['LoginResult'];
export type MeView = components['schemas']['Me'];
export type ApiKeyView = components['schemas']['ApiKey'];
/** `key` is shown once: only its SHA-256 is kept. */
export type CreatedApiKeyView = components['schemas']['CreatedApiKey'];

import { Omittable } from '../errors/validation';
import { IsEmail, IsIn, IsISO8601, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { ApiKeyScope } from '@wrenn/contracts';

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

/** The same for a new email and a taken one (no enumeration); the ids come with the login. */
export interface SignupView {
  email: string;
  status: 'accepted';
  message: string;
}

export interface LoginView {
  token: string;
  token_type: 'Bearer';
  expires_in: number;
  user_id: string;
  team_id: string;
}

export interface MeView {
  user_id: string;
  email: string;
  created_at: string;
  /** The team this token acts for. */
  team_id: string;
  teams: Array<{ team_id: string; name: string; role: string }>;
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  team_id: string;
  created_by: string;
  created_at: string;
  scope: ApiKeyScope;
  expires_at: string | null;
}

export interface CreatedApiKeyView extends ApiKeyView {
  /** Shown once: only its SHA-256 is kept. */
  key: string;
}

/**
 * The auth service's control-plane commands (gateway → auth over NATS request/reply) and the
 * identity events it puts on the log. Nothing here ever carries a password, a hash or a raw key
 * except the requests that must (signup, login, verify) — and those never reach the log.
 */
export const AuthCommand = {
  Signup: 'signup',
  Login: 'login',
  Me: 'me',
  CreateApiKey: 'api-key-create',
  ListApiKeys: 'api-key-list',
  RevokeApiKey: 'api-key-revoke',
  VerifyApiKey: 'api-key-verify',
} as const;
export type AuthCommand = (typeof AuthCommand)[keyof typeof AuthCommand];

export const IdentityEvent = {
  UserSignedUp: 'user.signed_up',
  TeamCreated: 'team.created',
  TeamMemberAdded: 'team.member_added',
  ApiKeyCreated: 'api_key.created',
  ApiKeyRevoked: 'api_key.revoked',
} as const;
export type IdentityEvent = (typeof IdentityEvent)[keyof typeof IdentityEvent];

/** Raw API keys look like `wrn_<43 base64url chars>`; the first 12 characters are the visible prefix. */
export const API_KEY_PREFIX = 'wrn_';
export const API_KEY_RE = /^wrn_[A-Za-z0-9_-]{43}$/;
export const API_KEY_VISIBLE_CHARS = 12;
export const API_KEY_ID_RE = /^key_[0-9a-z]{26}$/;

export interface SignupRequest {
  email: string;
  password: string;
  correlationId: string;
  /** The client's address as the gateway saw it: signups are rate-limited per address. */
  address: string;
}
/**
 * The same for a new email and a taken one, so signup tells no one which emails have accounts:
 * the account of a new email is ready to log in; a taken one is left as it was.
 */
export interface SignupResult {
  email: string;
}

export interface LoginRequest {
  email: string;
  password: string;
  /** The client's address as the gateway saw it: attempts are rate-limited per address too. */
  address: string;
}
export interface LoginResult {
  token: string;
  expiresIn: number;
  userId: string;
  teamId: string;
}

export interface MeRequest {
  userId: string;
}
export interface MeResult {
  userId: string;
  email: string;
  createdAt: string;
  teams: Array<{ teamId: string; name: string; role: string }>;
}

/**
 * What an API key may do: `full` everything a key can; `read_only` reads (GET) only; `sandbox`
 * the sandbox calls (/v1/sandboxes/…, exec, files) and E2B's API, nothing about the team.
 */
export const ApiKeyScope = { Full: 'full', Sandbox: 'sandbox', ReadOnly: 'read_only' } as const;
export type ApiKeyScope = (typeof ApiKeyScope)[keyof typeof ApiKeyScope];
export const API_KEY_SCOPES: readonly ApiKeyScope[] = Object.values(ApiKeyScope);

export interface CreateApiKeyRequest {
  userId: string;
  teamId: string;
  name: string;
  correlationId: string;
  /** Absent = full. */
  scope?: ApiKeyScope;
  /** ISO timestamp after which the key is refused (401 key_expired); absent = never. */
  expiresAt?: string;
}
export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  teamId: string;
  createdBy: string;
  createdAt: string;
  scope: ApiKeyScope;
  expiresAt: string | null;
}
export interface CreatedApiKey extends ApiKeyInfo {
  /** The raw key: returned once, stored nowhere. */
  key: string;
}

export interface ListApiKeysRequest {
  userId: string;
  teamId: string;
}

export interface RevokeApiKeyRequest {
  userId: string;
  teamId: string;
  keyId: string;
  correlationId: string;
}

export interface VerifyApiKeyRequest {
  key: string;
}
export interface VerifiedApiKey {
  keyId: string;
  teamId: string;
  scope: ApiKeyScope;
  /**
   * Milliseconds until the key expires, by PostgreSQL's clock at verification; absent when it
   * never does. A relative time, so a verdict cached elsewhere ends with the key whatever that
   * machine's clock says.
   */
  expiresInMs?: number;
}

/**
 * Published by the auth service on Naming.apiKeyInvalidations after a change to keys commits:
 * every cached verdict for these keys, or for any key of these teams, must be dropped.
 */
export interface ApiKeyInvalidation {
  keyIds?: string[];
  teamIds?: string[];
}

/** Claims of user tokens: `sub` is the user id, `team` the team the token acts for. */
export const JWT_ISSUER = 'wrenn';
export const JWT_AUDIENCE = 'wrenn-api';
export interface UserTokenClaims {
  sub: string;
  team: string;
}

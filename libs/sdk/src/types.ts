/**
 * Shapes of the API's requests and answers (snake_case, as on the wire). They are names for the
 * types generated from the OpenAPI document (`openapi.gen.ts`, see
 * services/gateway/scripts/generate-api-types.mjs): the document is the one description, so the
 * SDK cannot drift from it. Only the live event, which travels inside a text/event-stream, is
 * written here.
 */
import type { components, paths } from './openapi.gen';

type Schemas = components['schemas'];
type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
type QueryOf<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type SandboxState = Schemas['SandboxState'];
export type Sandbox = Schemas['Sandbox'];
export type CreateSandbox = Schemas['CreateSandbox'];
/**
 * A sandbox's egress policy: deny_out first, then allow_out, then the defaults (the public
 * internet allowed; private, link-local, loopback, other sandboxes and the host refused).
 */
export type NetworkPolicy = Sandbox['network'];
export type ListSandboxes = QueryOf<'/v1/sandboxes', 'get'>;
export type ExecRequest = Schemas['Exec'];
export type ExecResult = Schemas['ExecResult'];
export type Metrics = Schemas['Metrics'];
/** `path` (absolute, or relative to the user's home) and `user` (who owns what is written). */
export type FileTarget = QueryOf<'/v1/sandboxes/{id}/files', 'get'>;
export type Written = JsonOf<components['responses']['Written']>;
export type DirEntry = Schemas['DirEntry'];
/** One page of `GET /v1/sandboxes/{id}/files/list`. */
export type DirPage = JsonOf<paths['/v1/sandboxes/{id}/files/list']['get']['responses'][200]>;

/** What new sandboxes start from: `base`, or one frozen from a running sandbox. */
export type Template = Schemas['Template'];
/** @deprecated The old name of `Template` (a snapshot is a paused sandbox's own saved state). */
export type Snapshot = Template;

/** The same for a new email and a taken one (202): `login()` gives the user and team ids. */
export type SignupResult = Schemas['SignupResult'];
export type LoginResult = Schemas['LoginResult'];
export type Me = Schemas['Me'];
export type ApiKeyScope = Schemas['ApiKeyScope'];
export type ApiKey = Schemas['ApiKey'];
export type CreatedApiKey = Schemas['CreatedApiKey'];

export type AuditQuery = QueryOf<'/v1/audit', 'get'>;
export type AuditEntry = Schemas['AuditEntry'];
export type AuditPage = Schemas['AuditPage'];
export type UsageQuery = QueryOf<'/v1/usage', 'get'>;
export type Usage = Schemas['Usage'];
/** Quota figures: as limits, or as what the team uses now. */
export type QuotaFigures = Schemas['QuotaFigures'];
export type Quotas = Schemas['Quotas'];

/** `/healthz` answers only the status; `/v1/health` (API key) the whole report. */
export type HealthStatus = Schemas['HealthStatus'];
export type Health = Schemas['Health'];

/** One Server-Sent Event of `GET /v1/events`: `seq` is the stream sequence (resume after it). */
export interface LiveEvent {
  seq: number;
  id: string;
  type: string;
  version: number;
  resource: { type: string; id: string };
  actor: { kind: string; id: string };
  team_id: string;
  correlation_id: string;
  causation_id: string;
  occurred_at: string;
  data: unknown;
}

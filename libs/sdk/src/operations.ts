import type { WrennClient } from './client';

/** A documented API operation and the SDK method that performs it. */
export interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The OpenAPI path template. */
  path: string;
  /** The WrennClient method. */
  sdk: keyof WrennClient & string;
  /** Calls the method with sample arguments: lets a test check the request it sends. */
  sample: (client: WrennClient) => Promise<unknown>;
}

const SB = 'sb_0123456789abcdefghijklmnop';

/**
 * Every operation of the REST API, keyed by its OpenAPI operationId. A test compares this with
 * the served OpenAPI document (each documented operation must be here, except the deprecated
 * ones: their SDK methods call the operations that replace them) and checks that each sample
 * call sends exactly this method and path.
 */
export const OPERATIONS: Record<string, Operation> = {
  health: { method: 'GET', path: '/healthz', sdk: 'health', sample: (c) => c.health() },
  healthDetails: { method: 'GET', path: '/v1/health', sdk: 'healthDetails', sample: (c) => c.healthDetails() },
  openapi: { method: 'GET', path: '/openapi.yaml', sdk: 'openapiDocument', sample: (c) => c.openapiDocument() },
  docs: { method: 'GET', path: '/docs', sdk: 'docsPage', sample: (c) => c.docsPage() },
  testUi: { method: 'GET', path: '/test', sdk: 'testPage', sample: (c) => c.testPage() },
  signup: { method: 'POST', path: '/v1/auth/signup', sdk: 'signup', sample: (c) => c.signup('a@example.com', 'a long password') },
  login: { method: 'POST', path: '/v1/auth/login', sdk: 'login', sample: (c) => c.login('a@example.com', 'a long password') },
  me: { method: 'GET', path: '/v1/me', sdk: 'me', sample: (c) => c.me() },
  createApiKey: { method: 'POST', path: '/v1/api-keys', sdk: 'createApiKey', sample: (c) => c.createApiKey('ci') },
  listApiKeys: { method: 'GET', path: '/v1/api-keys', sdk: 'listApiKeys', sample: (c) => c.listApiKeys() },
  revokeApiKey: { method: 'DELETE', path: '/v1/api-keys/{id}', sdk: 'revokeApiKey', sample: (c) => c.revokeApiKey('key_0123456789abcdefghijklmnop') },
  createSandbox: { method: 'POST', path: '/v1/sandboxes', sdk: 'createSandbox', sample: (c) => c.createSandbox({ memory_mb: 128 }) },
  listSandboxes: { method: 'GET', path: '/v1/sandboxes', sdk: 'listSandboxes', sample: (c) => c.listSandboxes({ state: 'running' }) },
  getSandbox: { method: 'GET', path: '/v1/sandboxes/{id}', sdk: 'getSandbox', sample: (c) => c.getSandbox(SB) },
  destroySandbox: { method: 'DELETE', path: '/v1/sandboxes/{id}', sdk: 'destroySandbox', sample: (c) => c.destroySandbox(SB) },
  pauseSandbox: { method: 'POST', path: '/v1/sandboxes/{id}/pause', sdk: 'pauseSandbox', sample: (c) => c.pauseSandbox(SB) },
  resumeSandbox: { method: 'POST', path: '/v1/sandboxes/{id}/resume', sdk: 'resumeSandbox', sample: (c) => c.resumeSandbox(SB) },
  pingSandbox: { method: 'POST', path: '/v1/sandboxes/{id}/ping', sdk: 'pingSandbox', sample: (c) => c.pingSandbox(SB) },
  setSandboxTimeout: { method: 'POST', path: '/v1/sandboxes/{id}/timeout', sdk: 'setSandboxTimeout', sample: (c) => c.setSandboxTimeout(SB, 300) },
  setSandboxNetwork: { method: 'PUT', path: '/v1/sandboxes/{id}/network', sdk: 'setSandboxNetwork', sample: (c) => c.setSandboxNetwork(SB, { allow_out: ['10.0.0.5'], allow_internet_access: false }) },
  sandboxMetrics: { method: 'GET', path: '/v1/sandboxes/{id}/metrics', sdk: 'sandboxMetrics', sample: (c) => c.sandboxMetrics(SB) },
  exec: { method: 'POST', path: '/v1/sandboxes/{id}/exec', sdk: 'exec', sample: (c) => c.exec(SB, { cmd: 'true' }) },
  execStream: { method: 'GET', path: '/v1/sandboxes/{id}/exec/stream', sdk: 'execStream', sample: (c) => c.execStream(SB, { cmd: 'sh' }).done },
  uploadRaw: { method: 'PUT', path: '/v1/sandboxes/{id}/files', sdk: 'upload', sample: (c) => c.upload(SB, { path: 'a.txt' }, 'hello') },
  uploadMultipart: { method: 'POST', path: '/v1/sandboxes/{id}/files', sdk: 'uploadMultipart', sample: (c) => c.uploadMultipart(SB, { path: 'a.txt' }, 'hello') },
  download: { method: 'GET', path: '/v1/sandboxes/{id}/files', sdk: 'download', sample: (c) => c.readFile(SB, { path: 'a.txt' }) },
  listFiles: { method: 'GET', path: '/v1/sandboxes/{id}/files/list', sdk: 'listFiles', sample: (c) => c.listFiles(SB, { path: '/', depth: 2 }) },
  createTemplate: { method: 'POST', path: '/v1/templates', sdk: 'createTemplate', sample: (c) => c.createTemplate(SB, 'tpl') },
  listTemplates: { method: 'GET', path: '/v1/templates', sdk: 'listTemplates', sample: (c) => c.listTemplates() },
  deleteTemplate: { method: 'DELETE', path: '/v1/templates/{name}', sdk: 'deleteTemplate', sample: (c) => c.deleteTemplate('tpl') },
  audit: { method: 'GET', path: '/v1/audit', sdk: 'audit', sample: (c) => c.audit({ limit: 5 }) },
  usage: { method: 'GET', path: '/v1/usage', sdk: 'usage', sample: (c) => c.usage() },
  quotas: { method: 'GET', path: '/v1/quotas', sdk: 'quotas', sample: (c) => c.quotas() },
  events: { method: 'GET', path: '/v1/events', sdk: 'events', sample: async (c) => { for await (const _ of c.events()) void _; } },
};

/** `GET /v1/sandboxes/{id}` → `GET /v1/sandboxes/{}`: path parameters compare by position, not name. */
export function operationKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replace(/\{[^}]*\}/g, '{}')}`;
}

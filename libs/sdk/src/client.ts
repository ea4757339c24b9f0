import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import WebSocket from 'ws';
import { apiError } from './errors';
import { ExecSession, ExecStreamStart } from './exec-stream';
import { parseSse } from './sse';
import type {
  NetworkPolicy,
  ApiKey, ApiKeyScope, AuditPage, AuditQuery, CreatedApiKey, CreateSandbox, DirEntry, DirPage, ExecRequest, ExecResult, FileTarget, Health,
  HealthStatus, ListSandboxes, LiveEvent, LoginResult, Me, Metrics, Quotas, Sandbox, SignupResult, Template, Usage, UsageQuery, Written,
} from './types';

export interface WrennClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** `wrn_…`: sandbox, file, template, audit, usage and event calls. */
  apiKey?: string;
  /** A bearer token from `login()`: account and API key calls. */
  token?: string;
  /** Sent as `X-Correlation-Id` on every call; it is carried on every event the call causes. */
  correlationId?: string;
}

/** Which credential a call takes. */
type Auth = 'key' | 'bearer' | 'public';

/** What an upload reads: bytes, a string's UTF-8, or any stream of chunks (a Readable, a generator). */
export type UploadSource = Buffer | Uint8Array | string | AsyncIterable<Uint8Array | string>;

type Query = Record<string, string | number | undefined>;

/** A typed client of the Wrenn REST API; one method per documented operation (see `OPERATIONS`). */
export class WrennClient {
  readonly baseUrl: string;
  apiKey?: string;
  token?: string;
  private readonly correlationId?: string;

  constructor(options: WrennClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.token = options.token;
    this.correlationId = options.correlationId;
  }

  // ── platform ────────────────────────────────────────────────────────────
  /** `{status: 'ok' | 'degraded'}`, public; answers whether the platform is healthy (200) or not (503). */
  async health(): Promise<HealthStatus> {
    const res = await this.send('GET', '/healthz', { auth: 'public', accept: [200, 503] });
    return (await res.json()) as HealthStatus;
  }

  /** The health report with its reasons (NATS, PostgreSQL, hosts); needs an API key. */
  async healthDetails(): Promise<Health> {
    const res = await this.send('GET', '/v1/health', { auth: 'key', accept: [200, 503] });
    return (await res.json()) as Health;
  }

  /** The OpenAPI 3.1 document (YAML). */
  async openapiDocument(): Promise<string> {
    return (await this.send('GET', '/openapi.yaml', { auth: 'public' })).text();
  }

  /** Swagger UI's page (HTML). */
  async docsPage(): Promise<string> {
    return (await this.send('GET', '/docs', { auth: 'public' })).text();
  }

  /** The browser test page (HTML). */
  async testPage(): Promise<string> {
    return (await this.send('GET', '/test', { auth: 'public' })).text();
  }

  // ── identity ────────────────────────────────────────────────────────────
  signup(email: string, password: string): Promise<SignupResult> {
    return this.json('POST', '/v1/auth/signup', { auth: 'public', body: { email, password } });
  }

  /** Logs in and keeps the token on this client for the bearer calls that follow. */
  async login(email: string, password: string): Promise<LoginResult> {
    const result = await this.json<LoginResult>('POST', '/v1/auth/login', { auth: 'public', body: { email, password } });
    this.token = result.token;
    return result;
  }

  me(): Promise<Me> {
    return this.json('GET', '/v1/me', { auth: 'bearer' });
  }

  /** A new key; `scope` narrows it (`read_only`, `sandbox`), `expires_at` (RFC 3339) ends it. */
  createApiKey(name?: string, options: { scope?: ApiKeyScope; expires_at?: string } = {}): Promise<CreatedApiKey> {
    return this.json('POST', '/v1/api-keys', { auth: 'bearer', body: { ...(name === undefined ? {} : { name }), ...options } });
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (await this.json<{ api_keys: ApiKey[] }>('GET', '/v1/api-keys', { auth: 'bearer' })).api_keys;
  }

  /** Revokes the key: it is refused from its next call on. */
  async revokeApiKey(id: string): Promise<void> {
    await this.send('DELETE', `/v1/api-keys/${seg(id)}`, { auth: 'bearer' });
  }

  // ── sandboxes ───────────────────────────────────────────────────────────
  createSandbox(request: CreateSandbox = {}): Promise<Sandbox> {
    return this.json('POST', '/v1/sandboxes', { body: request });
  }

  /** The team's sandboxes, newest first (stopped ones included: filter by `state`). */
  async listSandboxes(query: ListSandboxes = {}): Promise<Sandbox[]> {
    return (await this.json<{ sandboxes: Sandbox[] }>('GET', '/v1/sandboxes', { query: { ...query } })).sandboxes;
  }

  getSandbox(id: string): Promise<Sandbox> {
    return this.json('GET', `/v1/sandboxes/${seg(id)}`);
  }

  /** Destroys the sandbox; answers it `stopped`. */
  destroySandbox(id: string): Promise<Sandbox> {
    return this.json('DELETE', `/v1/sandboxes/${seg(id)}`);
  }

  pauseSandbox(id: string): Promise<Sandbox> {
    return this.json('POST', `/v1/sandboxes/${seg(id)}/pause`);
  }

  resumeSandbox(id: string): Promise<Sandbox> {
    return this.json('POST', `/v1/sandboxes/${seg(id)}/resume`);
  }

  /** Resets the inactivity timer. */
  pingSandbox(id: string): Promise<Sandbox> {
    return this.json('POST', `/v1/sandboxes/${seg(id)}/ping`);
  }

  /** Changes the inactivity timeout (seconds; 0 = never pause). */
  setSandboxTimeout(id: string, timeoutSec: number): Promise<Sandbox> {
    return this.json('POST', `/v1/sandboxes/${seg(id)}/timeout`, { body: { timeout_sec: timeoutSec } });
  }

  /** Replaces the sandbox's egress policy, whole and live (omitted lists are empty, internet on by default). */
  setSandboxNetwork(id: string, network: Partial<NetworkPolicy>): Promise<Sandbox> {
    return this.json('PUT', `/v1/sandboxes/${seg(id)}/network`, { body: network });
  }

  sandboxMetrics(id: string): Promise<Metrics> {
    return this.json('GET', `/v1/sandboxes/${seg(id)}/metrics`);
  }

  /** Runs a command to completion (output capped at 1 MiB per stream). */
  exec(id: string, request: ExecRequest): Promise<ExecResult> {
    return this.json('POST', `/v1/sandboxes/${seg(id)}/exec`, { body: request });
  }

  /** Starts an interactive command over the exec WebSocket (stdin, PTY, resize, signals). */
  execStream(id: string, start: ExecStreamStart): ExecSession {
    const url = new URL(`${this.baseUrl}/v1/sandboxes/${seg(id)}/exec/stream`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, { headers: this.headers('key') });
    return new ExecSession(ws, start);
  }

  // ── files ───────────────────────────────────────────────────────────────
  /** Uploads to a path as the raw request body, streamed (nothing is held in memory). */
  async upload(id: string, target: FileTarget, source: UploadSource): Promise<Written> {
    const body = typeof source === 'string' ? Buffer.from(source) : source;
    return (await this.send('PUT', `/v1/sandboxes/${seg(id)}/files`, { query: { ...target }, rawBody: body, contentType: 'application/octet-stream' })).json() as Promise<Written>;
  }

  /** Uploads a local file, streamed. */
  async uploadFile(id: string, target: FileTarget, localPath: string): Promise<Written> {
    // Fails here, before any request, when the local file is missing or not a file.
    if (!(await stat(localPath)).isFile()) throw new Error(`${localPath} is not a file`);
    return this.upload(id, target, createReadStream(localPath));
  }

  /** Uploads as the one file part of a multipart/form-data body, streamed. */
  async uploadMultipart(id: string, target: FileTarget, source: UploadSource, filename = 'file'): Promise<Written> {
    const boundary = `wrenn-${randomBytes(12).toString('hex')}`;
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename.replace(/["\r\n]/g, '_')}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    async function* parts(): AsyncGenerator<Uint8Array> {
      yield head;
      if (typeof source === 'string') yield Buffer.from(source);
      else if (source instanceof Uint8Array) yield source;
      else for await (const chunk of source) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      yield tail;
    }
    const res = await this.send('POST', `/v1/sandboxes/${seg(id)}/files`, { query: { ...target }, rawBody: parts(), contentType: `multipart/form-data; boundary=${boundary}` });
    return (await res.json()) as Written;
  }

  /** Downloads a file as a stream of its bytes. */
  async download(id: string, target: FileTarget): Promise<Readable> {
    const res = await this.send('GET', `/v1/sandboxes/${seg(id)}/files`, { query: { ...target } });
    return res.body ? Readable.fromWeb(res.body as WebReadableStream<Uint8Array>) : Readable.from([]);
  }

  /** Downloads a file into a local path, streamed. */
  async downloadFile(id: string, target: FileTarget, localPath: string): Promise<void> {
    await pipeline(await this.download(id, target), createWriteStream(localPath));
  }

  /** Reads a (small) file whole, as UTF-8. */
  async readFile(id: string, target: FileTarget): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.download(id, target)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  /** A whole directory listing, page after page (each at most the gateway's page size). */
  async listFiles(id: string, target: FileTarget & { depth?: number; limit?: number }): Promise<DirEntry[]> {
    const all: DirEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listFilesPage(id, { ...target, cursor });
      all.push(...page.entries);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return all;
  }

  /** One page of a directory listing, in path order; pass `next_cursor` back as `cursor` for the next (null: the last page). */
  async listFilesPage(id: string, target: FileTarget & { depth?: number; limit?: number; cursor?: string }): Promise<DirPage> {
    const page = await this.json<Partial<DirPage>>('GET', `/v1/sandboxes/${seg(id)}/files/list`, { query: { ...target } });
    return { entries: page.entries ?? [], next_cursor: page.next_cursor ?? null };
  }

  // ── templates ───────────────────────────────────────────────────────────
  /** Freezes a running sandbox (which keeps running) into a named template new sandboxes can start from. */
  createTemplate(sandboxId: string, name: string): Promise<Template> {
    return this.json('POST', '/v1/templates', { body: { sandbox_id: sandboxId, name } });
  }

  async listTemplates(): Promise<Template[]> {
    return (await this.json<{ templates: Template[] }>('GET', '/v1/templates')).templates;
  }

  /** Deletes the template; `template_in_use` (409, `details.sandbox_ids`) while a sandbox made from it is not stopped. */
  deleteTemplate(name: string): Promise<Template> {
    return this.json('DELETE', `/v1/templates/${seg(name)}`);
  }

  // The old names, kept for one release. They call the new routes, so code written against them
  // keeps working after the deprecated `/v1/snapshots` routes are gone.
  /** @deprecated Use `createTemplate`. */
  createSnapshot(sandboxId: string, name: string): Promise<Template> {
    return this.createTemplate(sandboxId, name);
  }

  /** @deprecated Use `listTemplates`. */
  listSnapshots(): Promise<Template[]> {
    return this.listTemplates();
  }

  /** @deprecated Use `deleteTemplate`. */
  deleteSnapshot(name: string): Promise<Template> {
    return this.deleteTemplate(name);
  }

  // ── audit, usage, live events ───────────────────────────────────────────
  audit(query: AuditQuery = {}): Promise<AuditPage> {
    return this.json('GET', '/v1/audit', { query: { ...query } });
  }

  usage(query: UsageQuery = {}): Promise<Usage> {
    return this.json('GET', '/v1/usage', { query: { ...query } });
  }

  /** The team's quota limits and current use; a create, pause or resume past one is `quota_exceeded` (429). */
  quotas(): Promise<Quotas> {
    return this.json('GET', '/v1/quotas');
  }

  /**
   * The team's events live (Server-Sent Events), from after `after` (a stream sequence) or from
   * now; abort `signal` to stop. Reconnecting with the last `seq` seen neither loses nor repeats.
   * `onOpen` is called once the server has answered: from then on no event is missed, so a
   * caller that acts and then waits for the event it caused can act once it is called.
   */
  async *events(options: { after?: number; signal?: AbortSignal; onOpen?: () => void } = {}): AsyncGenerator<LiveEvent> {
    const res = await this.send('GET', '/v1/events', {
      query: { after: options.after },
      signal: options.signal,
      extraHeaders: { accept: 'text/event-stream', ...(options.after !== undefined ? { 'last-event-id': String(options.after) } : {}) },
    });
    options.onOpen?.();
    if (!res.body) return;
    try {
      for await (const message of parseSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
        yield JSON.parse(message.data) as LiveEvent;
      }
    } catch (error) {
      if (!options.signal?.aborted) throw error;
    }
  }

  // ── plumbing ────────────────────────────────────────────────────────────
  private headers(auth: Auth): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.correlationId) headers['x-correlation-id'] = this.correlationId;
    if (auth === 'key' && this.apiKey) headers['x-api-key'] = this.apiKey;
    if (auth === 'bearer' && this.token) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  private async json<T>(method: string, path: string, options: SendOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** One HTTP call; any status outside `accept` (default 2xx) becomes a WrennApiError. */
  private async send(method: string, path: string, options: SendOptions = {}): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers = { ...this.headers(options.auth ?? 'key'), ...options.extraHeaders };
    let body: RequestInit['body'];
    let duplex: 'half' | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    } else if (options.rawBody !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
      const raw = options.rawBody;
      // Streams go out as they are read (fetch needs duplex 'half' for a streamed request body).
      body = (raw instanceof Uint8Array ? raw : Readable.toWeb(Readable.from(raw))) as RequestInit['body'];
      duplex = raw instanceof Uint8Array ? undefined : 'half';
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: options.signal, ...(duplex ? { duplex } : {}) } as RequestInit);
    } catch (error) {
      // fetch says only "fetch failed"; the reason (refused, DNS, reset) is in its cause.
      if (options.signal?.aborted) throw error;
      const cause = (error as Error & { cause?: Error }).cause;
      throw new Error(`cannot reach ${this.baseUrl}: ${cause?.message ?? (error as Error).message}`, { cause: error });
    }
    const accepted = options.accept ? options.accept.includes(res.status) : res.ok;
    if (!accepted) throw apiError(res.status, await res.text(), res.headers.get('retry-after'));
    return res;
  }
}

interface SendOptions {
  auth?: Auth;
  query?: Query;
  body?: unknown;
  rawBody?: Uint8Array | AsyncIterable<Uint8Array | string>;
  contentType?: string;
  extraHeaders?: Record<string, string>;
  accept?: number[];
  signal?: AbortSignal;
}

/** Ids and names go into paths escaped, so a hostile one cannot reach another route. */
function seg(value: string): string {
  return encodeURIComponent(value);
}

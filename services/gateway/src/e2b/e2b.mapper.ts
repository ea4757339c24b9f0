import { ErrorCode, isTemplateName, TEMPLATE_NAME_RULE, WrennError } from '@wrenn/contracts';
import { MetricsView, SandboxView } from '../dtos/sandbox.dto';
import { E2bListedSandbox, E2bListQuery, E2bNewSandboxDto, E2bSandbox, E2bSandboxDetail, E2bSandboxMetric, E2bState } from './e2b.dto';

/**
 * The level of E2B's envd protocol that Wrenn's envd speaks. The SDK picks features by it:
 * ≥ 0.4.0 lets envd choose the default user, ≥ 0.5.2 allows closeStdin, ≥ 0.5.7 streams
 * uploads as application/octet-stream. File metadata (0.6.2) is not implemented, so no higher.
 */
export const E2B_ENVD_VERSION = '0.5.7';

/** E2B's SDKs default to 5 minutes when no timeout is given. */
export const E2B_DEFAULT_TIMEOUT_SEC = 300;

/**
 * E2B template ids onto Wrenn template names. E2B's default template id is `base`, which is
 * Wrenn's base image too; a `:default` tag (E2B's implicit tag) names the same template.
 */
export function templateFromE2b(templateID: string): string {
  const name = templateID.endsWith(':default') ? templateID.slice(0, -':default'.length) : templateID;
  if (!isTemplateName(name)) {
    throw new WrennError(ErrorCode.ValidationFailed, `templateID "${templateID}" is not a Wrenn template name (${TEMPLATE_NAME_RULE})`, { field: 'templateID' });
  }
  return name;
}

function refuse(field: string, message: string): never {
  throw new WrennError(ErrorCode.ValidationFailed, `${field}: ${message}`, { field });
}

/** E2B's allTraffic sentinel: denying it is E2B's "no internet". */
const ALL_TRAFFIC = '0.0.0.0/0';

export interface WrennNetworkInput {
  allow_out: unknown[];
  deny_out: unknown[];
  allow_internet_access: boolean;
}

/**
 * E2B's egress options onto Wrenn's policy. In E2B an allowOut entry wins over a denyOut one,
 * and its idiom for an allowlist is `denyOut: [allTraffic]` plus `allowOut`; Wrenn's denyOut
 * wins, so allTraffic in denyOut becomes allow_internet_access false (everything outside
 * allowOut refused) and keeps its meaning. A narrower denyOut that overlaps an allowOut entry
 * is denied in Wrenn. Transform rules and an egress proxy are refused, not ignored.
 */
export function networkFromE2b(allowInternetAccess: unknown, network: unknown): WrennNetworkInput {
  const n = (network ?? {}) as { allowOut?: unknown; denyOut?: unknown; rules?: unknown; egressProxy?: unknown };
  if (typeof n !== 'object' || Array.isArray(n)) refuse('network', 'must be an object');
  // E2B's SDK sends `rules` as an object of hosts (only when given): anything else is malformed.
  if (n.rules !== undefined) {
    if (n.rules === null || typeof n.rules !== 'object' || Array.isArray(n.rules)) refuse('network.rules', 'must be an object');
    if (Object.keys(n.rules).length > 0) refuse('network.rules', 'request transform rules are not supported');
  }
  if (n.egressProxy !== undefined) refuse('network.egressProxy', 'an egress proxy is not supported');
  const list = (field: string, value: unknown): unknown[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) refuse(`network.${field}`, 'must be an array of strings');
    return value;
  };
  const denyOut = list('denyOut', n.denyOut);
  const denyAll = denyOut.some((e) => typeof e === 'string' && e.trim() === ALL_TRAFFIC);
  return {
    allow_out: list('allowOut', n.allowOut),
    deny_out: denyOut.filter((e) => !(typeof e === 'string' && e.trim() === ALL_TRAFFIC)),
    allow_internet_access: allowInternetAccess !== false && !denyAll,
  };
}

/**
 * What an E2B create asks for, as Wrenn's create. Options that would change behaviour Wrenn does
 * not offer (volumes, the MCP gateway) are refused rather than silently ignored.
 */
export function createFromE2b(body: E2bNewSandboxDto): { template: string; timeoutSec: number; envVars: Record<string, string>; network: WrennNetworkInput } {
  const network = networkFromE2b(body.allow_internet_access, body.network);
  if (Array.isArray(body.volumeMounts) && body.volumeMounts.length > 0) refuse('volumeMounts', 'volumes are not supported');
  if (body.mcp) refuse('mcp', 'the MCP gateway is not supported');
  const envVars = body.envVars ?? {};
  for (const [key, value] of Object.entries(envVars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || typeof value !== 'string') refuse('envVars', `"${key}" must be a variable name with a string value`);
  }
  return { template: templateFromE2b(body.templateID), timeoutSec: body.timeout ?? E2B_DEFAULT_TIMEOUT_SEC, envVars, network };
}

export interface E2bListFilter {
  states: Set<E2bState>;
  template?: string;
  startedAfter?: number;
  order: 'asc' | 'desc';
  limit: number;
}

/**
 * E2B's list query. Metadata is not kept by Wrenn, so a metadata filter is refused rather than
 * answered with a list that silently ignores it.
 */
export function listFilterFromE2b(query: E2bListQuery): E2bListFilter {
  const states = new Set<E2bState>();
  for (const s of (query.state ?? 'running,paused').split(',').map((x) => x.trim()).filter(Boolean)) {
    if (s !== 'running' && s !== 'paused') refuse('state', `"${s}" is not one of running, paused`);
    states.add(s);
  }
  if (query.metadata !== undefined && query.metadata !== '') refuse('metadata', 'sandbox metadata is not stored, so it cannot be filtered on');
  let startedAfter: number | undefined;
  if (query.startedAfter !== undefined) {
    startedAfter = Date.parse(String(query.startedAfter));
    if (Number.isNaN(startedAfter)) refuse('startedAfter', 'must be an RFC 3339 time');
  }
  // Unspecified order: newest first, as Wrenn's own list.
  const order = query.order === undefined ? 'desc' : String(query.order);
  if (order !== 'asc' && order !== 'desc') refuse('order', 'must be asc or desc');
  return {
    states,
    template: query.template === undefined || query.template === '' ? undefined : templateFromE2b(String(query.template)),
    startedAfter,
    order,
    limit: query.limit ?? 1000,
  };
}

/** Wrenn's states as E2B names them; states E2B has no word for are not shown to E2B clients. */
export function e2bState(state: string): E2bState | null {
  switch (state) {
    case 'running':
    case 'resuming':
      return 'running';
    case 'pausing':
    case 'paused':
      return 'paused';
    default:
      return null;
  }
}

/**
 * E2B's endAt: when the timeout would fire. Wrenn's timeout counts inactivity from the last
 * change, so this is the earliest it can fire; no timeout reads as far in the future.
 */
function endAt(view: SandboxView): string {
  const from = Date.parse(view.updated_at);
  return new Date(view.timeout_sec > 0 ? from + view.timeout_sec * 1000 : Date.UTC(9999, 0, 1)).toISOString();
}

export function toE2bSandbox(view: SandboxView, envdAccessToken: string): E2bSandbox {
  return {
    templateID: view.template,
    sandboxID: view.id,
    alias: view.template,
    clientID: view.host_id ?? '',
    envdVersion: E2B_ENVD_VERSION,
    envdAccessToken,
    trafficAccessToken: null,
    domain: null,
  };
}

export function toE2bListed(view: SandboxView, state: E2bState): E2bListedSandbox {
  return {
    templateID: view.template,
    alias: view.template,
    sandboxID: view.id,
    clientID: view.host_id ?? '',
    startedAt: view.created_at,
    endAt: endAt(view),
    cpuCount: view.vcpus,
    memoryMB: view.memory_mb,
    diskSizeMB: 0,
    metadata: {},
    state,
    envdVersion: E2B_ENVD_VERSION,
    volumeMounts: [],
  };
}

export function toE2bDetail(view: SandboxView, state: E2bState, envdAccessToken: string): E2bSandboxDetail {
  return {
    ...toE2bListed(view, state),
    envdAccessToken,
    domain: null,
    allowInternetAccess: view.network.allow_internet_access,
    // Wrenn's timeout pauses (the reaper destroys only when a pause fails).
    lifecycle: { autoResume: false, onTimeout: 'pause' },
  };
}

/**
 * One E2B metric sample from Wrenn's point-in-time metrics. CPU use is the average since the
 * sandbox started (Wrenn reports cumulative CPU time, not a rate).
 */
export function toE2bMetric(view: SandboxView, m: MetricsView, now = Date.now()): E2bSandboxMetric {
  const aliveUsec = Math.max(1, (now - Date.parse(view.created_at)) * 1000);
  const pct = (m.cpu_usage_usec / (aliveUsec * Math.max(1, m.vcpus))) * 100;
  return {
    timestamp: new Date(now).toISOString(),
    timestampUnix: Math.floor(now / 1000),
    cpuCount: m.vcpus,
    cpuUsedPct: Math.round(Math.min(100, pct) * 100) / 100,
    memUsed: m.memory_bytes,
    memTotal: m.memory_limit_bytes,
    memCache: 0,
    diskUsed: m.disk_bytes,
    diskTotal: 0,
  };
}

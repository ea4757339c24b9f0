import { ApiKeyScope, ErrorCode, WrennError } from '@wrenn/contracts';

const READS = new Set(['GET', 'HEAD']);

/**
 * Whether a key of `scope` may make this call; otherwise 403 `forbidden` naming the scope.
 * `read_only`: GET and HEAD, but not the exec WebSocket (its upgrade is a GET that runs commands).
 * `sandbox`: the sandbox calls (/v1/sandboxes/…, exec and files included) and E2B's API.
 */
export function assertScope(scope: ApiKeyScope | undefined, method: string, path: string, execStream = false): void {
  if (scope === undefined || scope === ApiKeyScope.Full) return;
  if (scope === ApiKeyScope.ReadOnly && READS.has(method.toUpperCase()) && !execStream) return;
  if (scope === ApiKeyScope.Sandbox && (path === '/v1/sandboxes' || path.startsWith('/v1/sandboxes/') || path === '/e2b' || path.startsWith('/e2b/'))) return;
  throw new WrennError(ErrorCode.Forbidden, `this API key's scope (${scope}) does not allow ${method.toUpperCase()} ${path}`, { scope });
}

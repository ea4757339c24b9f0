import { ErrorCode, isSandboxId, isTemplateId, WrennError } from '@wrenn/contracts';

/**
 * The id rules of @wrenn/contracts, checked again where an id becomes a path on the host (a
 * sandbox's or a template's directory): anything else is refused before it gets near one.
 */
export function requireSandboxId(id: string): void {
  if (!isSandboxId(id)) throw new WrennError(ErrorCode.ValidationFailed, `"${id}" is not a sandbox id`);
}

export function requireTemplateId(id: string): void {
  if (!isTemplateId(id)) throw new WrennError(ErrorCode.ValidationFailed, `"${id}" is not a template id`);
}

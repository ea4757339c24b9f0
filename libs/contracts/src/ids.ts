import { ErrorCode, WrennError } from './errors';

/** Sandbox ids: prefix + lower-case ULID, usable as a hostname and a directory name. */
export const SANDBOX_ID_RE = /^sb_[0-9a-z]{26}$/;
export const HOST_ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function isSandboxId(value: string): boolean {
  return SANDBOX_ID_RE.test(value);
}

/** Template ids: prefix + lower-case ULID; the host agent keys a template's files by it. */
export const TEMPLATE_ID_RE = /^tpl_[0-9a-z]{26}$/;

export function isTemplateId(value: string): boolean {
  return TEMPLATE_ID_RE.test(value);
}

/** 400 validation_failed unless `value` is a sandbox id: the check before an id names a path, a cgroup or a netns. */
export function requireSandboxId(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !isSandboxId(value)) throw new WrennError(ErrorCode.ValidationFailed, `"${String(value)}" is not a sandbox id`);
}

/** 400 validation_failed unless `value` is a template id (the host keys a template's files by it). */
export function requireTemplateId(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !isTemplateId(value)) throw new WrennError(ErrorCode.ValidationFailed, `"${String(value)}" is not a template id`);
}

/**
 * Template names as users choose them. ASCII only, no dots or slashes, so a name can
 * never traverse directories or hide behind look-alike unicode. The gateway checks it (400) and
 * the host agent checks it again before a name comes near a path.
 */
export const TEMPLATE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** TEMPLATE_NAME_RE in words, for the refusals that name the rule. */
export const TEMPLATE_NAME_RULE = '1-63 lower-case ASCII letters, digits, "_" or "-", starting with a letter or digit';

/** Names the platform owns: built-in images. */
export const BUILT_IN_TEMPLATES: readonly string[] = ['base'];

export function isTemplateName(value: unknown): value is string {
  return typeof value === 'string' && TEMPLATE_NAME_RE.test(value);
}

/** Sandbox ids: prefix + lower-case ULID, usable as a hostname and a directory name. */
export const SANDBOX_ID_RE = /^sb_[0-9a-z]{26}$/;
export const HOST_ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function isSandboxId(value: string): boolean {
  return SANDBOX_ID_RE.test(value);
}

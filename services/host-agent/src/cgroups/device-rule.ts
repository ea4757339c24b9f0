import { ErrorCode, WrennError } from '@wrenn/contracts';

/** One device allowlist entry: which nodes ('a' any type; -1 any number) and what may be done with them. */
export interface DeviceRule {
  type: 'c' | 'b' | 'a';
  major: number;
  minor: number;
  /** Letters of "rwm": read, write, mknod. */
  access: string;
}

export class DeviceRuleError extends WrennError {
  constructor(rule: string, why: string) {
    super(ErrorCode.ValidationFailed, `device rule "${rule}": ${why}`, { rule });
    this.name = 'DeviceRuleError';
  }
}

const MAX_MAJOR = 4095;
const MAX_MINOR = (1 << 20) - 1;

/**
 * Reads a rule in the v1 devices.allow syntax ("c 1:3 rwm", "c 136:* rw", "a"), the one form the
 * allowlist is written in for both cgroup versions.
 */
export function parseDeviceRule(text: string): DeviceRule {
  const trimmed = text.trim();
  if (trimmed === 'a') return { type: 'a', major: -1, minor: -1, access: 'rwm' };
  // "a" stands alone: v1 reads "a 1:3 r" as all devices, whatever follows.
  const m = /^([bc]) (\*|\d+):(\*|\d+)(?: ([rwm]{1,3}))?$/.exec(trimmed);
  if (!m) throw new DeviceRuleError(text, 'expected "a" or "<b|c> <major|*>:<minor|*> [rwm]"');
  const number = (s: string, max: number, what: string) => {
    if (s === '*') return -1;
    const n = Number(s);
    if (n > max) throw new DeviceRuleError(text, `${what} ${n} is above ${max}`);
    return n;
  };
  const access = m[4] ?? 'rwm';
  if (new Set(access).size !== access.length) throw new DeviceRuleError(text, `access "${access}" repeats a letter`);
  return { type: m[1] as DeviceRule['type'], major: number(m[2], MAX_MAJOR, 'major'), minor: number(m[3], MAX_MINOR, 'minor'), access };
}

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { DEFAULT_CLAIM_DIR } from './slot-range-claim';

/**
 * Second octets of the 10.x.0.0/16 networks that hold an address on this host now, or that an
 * agent has claimed for its slots (SlotRangeClaim; it may have built none yet).
 */
export function usedTenSlash16s(claimDir = DEFAULT_CLAIM_DIR): Set<number> {
  const listing = execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' });
  const claimed = existsSync(claimDir) ? readdirSync(claimDir).join('\n') : '';
  return new Set([...`${listing}\n${claimed}`.matchAll(/(?:inet |^)10\.(\d+)\./gm)].map((m) => Number(m[1])));
}

/**
 * A 10.x.0.0/16 for sandbox slots that nothing on this host uses yet, trying x = `preferred`
 * first, then upwards within 200–255. Two agents (or an agent and a test run, or the leftovers of
 * a killed one) on the same slot addresses would route each other's sandboxes' traffic to the
 * wrong namespace.
 */
export function unusedSlotCidr(preferred: number, used = usedTenSlash16s()): string {
  for (let i = 0; i < 56; i++) {
    const octet = 200 + ((preferred - 200 + i + 56) % 56);
    if (!used.has(octet)) return `10.${octet}.0.0/16`;
  }
  throw new Error('every 10.200-255.0.0/16 network holds an address on this host');
}

import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run-command';

/** First and last address of an IPv4 CIDR, as numbers. */
function bounds(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const prefix = Number(bits);
  const n = ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - prefix);
  const start = n - (n % size);
  return [start, start + size - 1];
}

const overlap = (a: string, b: string) => {
  const [a0, a1] = bounds(a);
  const [b0, b1] = bounds(b);
  return a0 <= b1 && b0 <= a1;
};

const fileOf = (cidr: string) => cidr.replace('/', '_');
const cidrOf = (file: string) => file.replace('_', '/');

/** What holds addresses on this machine now, beside the claims: interfaces and tables. */
interface HostView {
  /** IPv4 CIDRs of every address of the host's namespace, with their interface. */
  addresses: Array<{ dev: string; cidr: string }>;
  links: string[];
  tables: string[];
}

async function hostView(): Promise<HostView> {
  const [addr, tables] = await Promise.all([run('ip', ['-j', '-4', 'addr', 'show']), run('nft', ['list', 'tables']).catch(() => '')]);
  const ifaces = JSON.parse(addr) as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>;
  return {
    addresses: ifaces.flatMap((i) => (i.addr_info ?? []).map((a) => ({ dev: i.ifname, cidr: `${a.local}/${a.prefixlen}` }))),
    links: ifaces.map((i) => i.ifname),
    tables: tables.split('\n').map((l) => l.trim().split(' ').pop() ?? ''),
  };
}

/** Shared by every agent on the machine; a tmpfs, so a reboot (which ends every sandbox) frees all. */
export const DEFAULT_CLAIM_DIR = '/run/wrenn/net-ranges';

export interface SlotRangeClaimOptions {
  agentKey: string;
  /** Prefix of this agent's host-side veths (their addresses are its own slots'). */
  vethPrefix: string;
  /** Names the host-side veths of the agent of a key; a claim whose agent left none and no table is stale. */
  vethPrefixOf: (agentKey: string) => string;
  tableOf: (agentKey: string) => string;
  /** Default DEFAULT_CLAIM_DIR. */
  dir?: string;
}

/**
 * The address range of an agent's slots, claimed machine-wide. Two agents on one machine with
 * overlapping ranges would both add routes to the same slot addresses: the kernel follows the
 * first, so one agent's sandboxes would get the other's replies (and traffic) without any error.
 *
 * A range is claimed by creating its file exclusively in a directory every agent shares (as
 * IdRanges does for user ids), naming the agent's key: a restarted agent finds its own claim
 * and keeps its range (its live sandboxes' addresses). A claim whose agent left nothing on the
 * machine (no nftables table, no veth) is stale and taken over. A range that any other
 * interface of the host already has an address in (an agent of an older version, a VPN) is not
 * claimed either.
 */
export class SlotRangeClaim {
  private readonly dir: string;

  constructor(private readonly options: SlotRangeClaimOptions) {
    this.dir = options.dir ?? DEFAULT_CLAIM_DIR;
  }

  /**
   * The first of `candidates` (in order) that is free or already this agent's, claimed. The
   * agent's own claim wins over order, so a restart keeps its range. Throws when none is free,
   * naming who holds each.
   */
  async claim(candidates: readonly string[]): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const own = await this.ownClaims();
    const mine = candidates.find((c) => own.includes(c));
    if (mine) return mine;
    const refusals: string[] = [];
    for (const cidr of candidates) {
      const holder = await this.holderOf(cidr);
      if (holder) {
        refusals.push(`${cidr}: ${holder}`);
        continue;
      }
      if (await this.take(cidr)) return cidr;
      refusals.push(`${cidr}: claimed by another agent just now`);
    }
    throw new Error(`no slot address range free for agent ${this.options.agentKey} on this machine (${refusals.join('; ')}); give it a free one (WRENN_NET_CIDR)`);
  }

  /** Gives this agent's claims back (its slots and table are gone). */
  async release(): Promise<void> {
    for (const cidr of await this.ownClaims()) await rm(join(this.dir, fileOf(cidr)), { force: true });
  }

  private async claims(): Promise<Array<{ cidr: string; key: string }>> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const out: Array<{ cidr: string; key: string }> = [];
    for (const file of files) {
      const key = (await readFile(join(this.dir, file), 'utf8').catch(() => '')).trim();
      out.push({ cidr: cidrOf(file), key });
    }
    return out;
  }

  private async ownClaims(): Promise<string[]> {
    return (await this.claims()).filter((c) => c.key === this.options.agentKey).map((c) => c.cidr);
  }

  /** Who stands in the way of the range, or undefined when nothing does (stale claims removed). */
  private async holderOf(cidr: string): Promise<string | undefined> {
    const view = await hostView();
    for (const claim of await this.claims()) {
      if (claim.key === this.options.agentKey || !overlap(claim.cidr, cidr)) continue;
      // An empty file is a claim being written this instant.
      if (!claim.key) return `being claimed (${claim.cidr})`;
      const alive = view.tables.includes(this.options.tableOf(claim.key)) || view.links.some((l) => l.startsWith(this.options.vethPrefixOf(claim.key)));
      if (alive) return `claimed by agent ${claim.key} (${claim.cidr})`;
      // Its agent left nothing behind: the claim outlived it (killed, or stopped without cleaning).
      await rm(join(this.dir, fileOf(claim.cidr)), { force: true });
    }
    const used = view.addresses.find((a) => !a.dev.startsWith(this.options.vethPrefix) && overlap(a.cidr, cidr));
    return used && `address ${used.cidr} on ${used.dev}`;
  }

  private async take(cidr: string): Promise<boolean> {
    try {
      const file = await open(join(this.dir, fileOf(cidr)), 'wx', 0o600);
      await file.writeFile(`${this.options.agentKey}\n`);
      await file.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }
}

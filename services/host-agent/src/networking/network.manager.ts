import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { DEFAULT_NETWORK_POLICY, NetworkPolicy, parseEgressEntry } from '@wrenn/contracts';
import { Firewall } from './firewall';
import { readHostResolvConf, sandboxResolvConf, sandboxResolvers } from './dns';
import { EgressElements, ResolvedEgress } from './egress-rules';
import { buildSlot, SandboxNetwork, slotNames, SlotNaming, teardownSlot } from './network-slot';
import { existsSync } from 'node:fs';
import { isGone, run } from './run-command';
import { flushFlowsIn, flushHostNeighbours, flushNeighboursIn, forgetFlows, processesIn } from './slot-cleaning';
import { SlotAllocator } from './slot-allocator';
import { SlotRangeClaim } from './slot-range-claim';
import { tableName } from './nft-ruleset';

export interface NetworkManagerOptions {
  /** Short key unique per host agent on this machine: [a-z0-9]{1,6}. Names every netns, veth and its nftables table. */
  agentKey: string;
  /**
   * Address space of the slots, claimed machine-wide at start (a range another agent on this
   * machine holds is refused). Default: a /16 derived from the key, or the next free one.
   */
  cidr?: string;
  /** Where agents on this machine claim their ranges (default /run/wrenn/net-ranges). */
  claimDir?: string;
  /** Slots kept built ahead of demand. */
  poolSize?: number;
  /**
   * How long after an acquire or release the pool starts rebuilding (default 200 ms): building a
   * slot runs half a dozen programs, which would otherwise share this host's CPUs with the very
   * sandbox start or pause that took the slot.
   */
  refillDelayMs?: number;
  dnsFallback?: string[];
  /** The host's resolv.conf text (default: /etc/resolv.conf); its resolvers are the sandboxes'. */
  hostResolvConf?: string;
  /**
   * The operator's allowlist (e.g. a package mirror): CIDRs or domain names every sandbox may
   * reach, private or not, as if in each sandbox's allowOut.
   */
  operatorAllowOut?: string[];
  /** Resolves a domain name of a policy to IPv4 addresses (default: the host's resolver). */
  resolveName?: (name: string) => Promise<string[]>;
  logger?: { info: (o: object, m?: string) => void; warn: (o: object, m?: string) => void };
  /**
   * Extra set-up of every slot as it is built (pooled ones included), e.g. a microVM's TAP; a
   * failure tears the slot down. Deleting the netns must remove what it adds.
   */
  prepareSlot?: (net: SandboxNetwork) => Promise<void>;
}

/** Key for an agent on this machine, from something stable (its host id). */
export function agentKeyFor(hostId: string): string {
  return createHash('sha256').update(hostId).digest('hex').slice(0, 5);
}

/** 10.<128..247>.0.0/16 picked by the key: distinct agents on one machine rarely collide. */
export function defaultCidrFor(agentKey: string): string {
  return defaultCidrsFor(agentKey)[0];
}

/**
 * Every 10.<128..247>.0.0/16, the key's own first: when another agent on the machine holds that
 * one (1 in 120 pairs of keys), the next free one is claimed instead (SlotRangeClaim).
 */
export function defaultCidrsFor(agentKey: string): string[] {
  const first = parseInt(agentKey.slice(0, 4), 16) % 120;
  return Array.from({ length: 120 }, (_, i) => `10.${128 + ((first + i) % 120)}.0.0/16`);
}

const MAX_SLOTS = 4096;

/**
 * Per-sandbox networks for one host agent: allocates slots, keeps a pool of pre-built ones so a
 * create does not pay the ~45 ms of netns + veth setup, and finds its own leftovers after a
 * restart by naming convention.
 */
export class NetworkManager {
  private allocatorOrUndefined: SlotAllocator | undefined;
  private claiming: Promise<void> | undefined;
  private readonly rangeClaim: SlotRangeClaim;
  private readonly firewall: Firewall;
  private readonly naming: SlotNaming;
  private readonly poolSize: number;
  private readonly pool: SandboxNetwork[] = [];
  private readonly assigned = new Map<number, SandboxNetwork>();
  private refilling: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly resolv: string;

  /** The slots' addresses, known once the range is claimed (recover or start). */
  private get allocator(): SlotAllocator {
    if (!this.allocatorOrUndefined) throw new Error('network slots are not ready: their address range is claimed at start');
    return this.allocatorOrUndefined;
  }

  /** The range of the slots' addresses, claimed on this machine (see SlotRangeClaim); once. */
  private claimRange(): Promise<void> {
    this.claiming ??= (async () => {
      const cidr = await this.rangeClaim.claim(this.options.cidr ? [this.options.cidr] : defaultCidrsFor(this.options.agentKey));
      this.allocatorOrUndefined = new SlotAllocator(cidr, MAX_SLOTS);
      this.options.logger?.info({ cidr }, 'network slots: address range claimed');
    })().catch((error) => {
      this.claiming = undefined;
      throw error;
    });
    return this.claiming;
  }

  /** The slots' address range (once claimed). */
  get cidr(): string | undefined {
    return this.allocatorOrUndefined?.cidr;
  }

  /** The agent's key: names its netns, veths, nftables table and (in the runtime) its id-range files. */
  get agentKey(): string {
    return this.options.agentKey;
  }

  constructor(private readonly options: NetworkManagerOptions) {
    if (!/^[a-z0-9]{1,6}$/.test(options.agentKey)) throw new Error(`agent key "${options.agentKey}" must be 1-6 of [a-z0-9]`);
    // Host-side veths of every agent share the "wh" prefix so the firewall can tell sandbox
    // interfaces from the rest; names stay within IFNAMSIZ (15).
    this.naming = { netnsPrefix: `wrenn-${options.agentKey}-`, vethPrefix: `wh${options.agentKey}-` };
    // A bad range is refused now rather than at start.
    if (options.cidr) new SlotAllocator(options.cidr, MAX_SLOTS);
    this.rangeClaim = new SlotRangeClaim({
      agentKey: options.agentKey,
      vethPrefix: this.naming.vethPrefix,
      vethPrefixOf: (key) => `wh${key}-`,
      tableOf: tableName,
      dir: options.claimDir,
    });
    const hostResolv = options.hostResolvConf ?? readHostResolvConf();
    this.firewall = new Firewall(options.agentKey, 'wh', sandboxResolvers(hostResolv, options.dnsFallback));
    this.poolSize = options.poolSize ?? 4;
    this.resolv = sandboxResolvConf(hostResolv, options.dnsFallback);
    for (const entry of options.operatorAllowOut ?? []) {
      if ('error' in parseEgressEntry(entry)) throw new Error(`operator egress allowlist: ${(parseEgressEntry(entry) as { error: string }).error}`);
    }
  }

  /**
   * Domain names of a list resolved now, to /32s; a name that does not resolve opens or closes
   * nothing (logged), the rest of the policy still applies.
   */
  private async resolveEntries(entries: readonly string[]): Promise<string[]> {
    const resolve = this.options.resolveName ?? (async (name: string) => (await lookup(name, { all: true, family: 4 })).map((a) => a.address));
    const out: string[] = [];
    for (const entry of entries) {
      const parsed = parseEgressEntry(entry);
      if ('error' in parsed) continue;
      if (parsed.kind === 'cidr') {
        out.push(parsed.cidr);
        continue;
      }
      try {
        out.push(...(await resolve(parsed.name)).map((ip) => `${ip}/32`));
      } catch (error) {
        this.options.logger?.warn({ name: parsed.name, err: error }, 'egress policy: a domain name did not resolve');
      }
    }
    return [...new Set(out)];
  }

  private async resolvePolicy(policy: NetworkPolicy): Promise<ResolvedEgress> {
    const [allowOut, operator, denyOut] = await Promise.all([
      this.resolveEntries(policy.allowOut),
      this.resolveEntries(this.options.operatorAllowOut ?? []),
      this.resolveEntries(policy.denyOut),
    ]);
    return { allowOut: [...new Set([...allowOut, ...operator])], denyOut, allowInternetAccess: policy.allowInternetAccess };
  }

  /**
   * Applies a sandbox's egress policy to its slot, replacing the one before in one transaction
   * (connections already open are judged by the new one from their next packet on). Domain
   * names are resolved now.
   */
  async applyPolicy(index: number, policy: NetworkPolicy): Promise<void> {
    if (!this.assigned.has(index)) throw new Error(`network slot ${index} is not in use`);
    await this.firewall.setEgress(index, await this.resolvePolicy(policy));
  }

  /** applyPolicy for the slot of the sandbox at this address (how the orchestrator knows it). */
  async applyAt(sandboxIp: string, policy: NetworkPolicy): Promise<void> {
    const net = this.slotOf(sandboxIp);
    if (!net) throw new Error(`no network slot in use has address ${sandboxIp}`);
    await this.applyPolicy(net.index, policy);
  }

  /** The slot in use whose sandbox has this address (the address envd is reached at). */
  slotOf(sandboxIp: string): SandboxNetwork | undefined {
    // The address names its slot (see SlotAllocator): no walk over the slots in use.
    const index = this.allocator.indexOfSandboxIp(sandboxIp);
    const net = index === undefined ? undefined : this.assigned.get(index);
    return net?.sandboxIp === sandboxIp ? net : undefined;
  }

  /** The slot's egress policy as the kernel's sets hold it (CIDRs after resolution and merging). */
  egressOf(index: number): Promise<EgressElements> {
    return this.firewall.egressOf(index);
  }

  resolvConf(): string {
    return this.resolv;
  }

  async start(): Promise<void> {
    await this.claimRange();
    await this.firewall.setup();
    await this.refreshDefaultEgress();
    this.refill();
  }

  /** Slots are built with the defaults plus the operator's allowlist (its names resolved now). */
  private async refreshDefaultEgress(): Promise<void> {
    if (this.options.operatorAllowOut?.length) this.firewall.defaultEgress = await this.resolvePolicy(DEFAULT_NETWORK_POLICY);
  }

  private async build(): Promise<SandboxNetwork> {
    await this.claimRange();
    const net = slotNames(this.naming, this.allocator.allocate());
    try {
      await buildSlot(net, this.firewall);
    } catch (error) {
      this.allocator.release(net.index);
      throw error;
    }
    if (!this.options.prepareSlot) return net;
    try {
      await this.options.prepareSlot(net);
      return net;
    } catch (error) {
      await teardownSlot(net, this.firewall);
      this.allocator.release(net.index);
      throw error;
    }
  }

  /** Refills a little later (see refillDelayMs); one timer at a time. */
  private scheduleRefill(): void {
    if (this.refillTimer || this.stopped || this.poolSize === 0) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, this.options.refillDelayMs ?? 200);
    this.refillTimer.unref();
  }

  /** Keeps the pool at its size in the background, one slot at a time. */
  private refill(): void {
    if (this.refilling || this.stopped || this.poolSize === 0) return;
    this.refilling = (async () => {
      while (!this.stopped && this.pool.length < this.poolSize) {
        try {
          this.pool.push(await this.build());
        } catch (error) {
          this.options.logger?.warn({ err: error }, 'could not pre-build a network slot');
          break;
        }
      }
    })().finally(() => {
      this.refilling = undefined;
    });
  }

  /** A ready network for a new sandbox: from the pool when it has one, else built now. */
  async acquire(): Promise<SandboxNetwork> {
    let pooled = this.pool.shift();
    // A pooled slot whose netns went under us (removed by hand, or by a second agent wrongly
    // given this one's key) is forgotten rather than handed out broken.
    while (pooled && !existsSync(pooled.netnsPath)) {
      this.options.logger?.warn({ index: pooled.index }, 'pooled network slot lost its netns; dropped');
      await teardownSlot(pooled, this.firewall);
      this.allocator.release(pooled.index);
      pooled = this.pool.shift();
    }
    const net = pooled ?? (await this.build());
    this.assigned.set(net.index, net);
    this.scheduleRefill();
    return net;
  }

  /**
   * Gives a sandbox's network back, errors collected; idempotent. With `recycle` (the caller
   * killed every process of the sandbox) and room in the pool, the slot is cleaned and pooled for
   * the next sandbox instead of torn down and rebuilt (cleanSlot); when cleaning fails (a host
   * whose kernel cannot flush its connections over netlink among others), it is torn down as
   * without.
   */
  async release(index: number, options: { recycle?: boolean } = {}): Promise<void> {
    const assigned = this.assigned.get(index);
    if (options.recycle && assigned && !this.stopped && this.pool.length < this.poolSize) {
      try {
        await this.cleanSlot(assigned);
        this.assigned.delete(index);
        // Behind the pool's fresh slots: the last to be handed out again.
        this.pool.push(assigned);
        return;
      } catch (error) {
        this.options.logger?.warn({ err: error, index }, 'network slot not recycled; tearing it down');
      }
    }
    const net = assigned ?? slotNames(this.naming, this.allocator.addresses(index));
    const errors = await teardownSlot(net, this.firewall);
    this.assigned.delete(index);
    this.allocator.release(index);
    this.scheduleRefill();
    if (errors.length) throw new AggregateError(errors, `network slot ${index}: ${errors.map((e) => e.message).join('; ')}`);
  }

  /**
   * Makes a used slot as good as new for another tenant: no process in its netns, its egress
   * chain back to the defaults, every conntrack entry of its address flushed (host side: NAT and
   * ESTABLISHED state of the old connections, which would otherwise let replies to them in) and
   * its netns's own table, neighbour entries of both ends gone. Addresses, routes and the veth are
   * the host's and were never the sandbox's to change (its user namespace has no CAP_NET_ADMIN
   * over a netns the host owns).
   */
  private async cleanSlot(net: SandboxNetwork): Promise<void> {
    // Independent of one another, so side by side (this runs on every delete), and without a
    // program (slot-cleaning.ts). Should a process be found in the netns after all, the slot is
    // torn down rather than pooled, so what the others did by then does not matter.
    const results = await Promise.allSettled([
      processesIn(net.netnsPath).then((pids) => {
        if (pids.length) throw new Error(`processes left in ${net.netnsName}: ${pids.join(' ')}`);
      }),
      this.firewall.resetEgress(net.index),
      // Tracked connections of the old tenant, the host's and the netns's own.
      forgetFlows(net.sandboxIp),
      flushFlowsIn(net.netnsPath),
      // What the two ends learnt of each other's neighbours.
      flushHostNeighbours(net.hostVeth),
      flushNeighboursIn(net.netnsPath),
    ]);
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  network(index: number): SandboxNetwork {
    return this.assigned.get(index) ?? slotNames(this.naming, this.allocator.addresses(index));
  }

  /**
   * After an agent restart: keeps the slots of sandboxes that are still alive (their firewall
   * elements kept, or added again), removes every other namespace, veth and element this agent left.
   */
  async recover(inUse: number[]): Promise<{ kept: number[]; removed: string[] }> {
    await this.claimRange();
    await this.refreshDefaultEgress();
    const removed: string[] = [];
    const keep = new Set(inUse);
    const netnsList = (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(this.naming.netnsPrefix));
    for (const name of netnsList) {
      const index = Number(name.slice(this.naming.netnsPrefix.length));
      if (keep.has(index)) continue;
      await run('ip', ['netns', 'del', name]).catch((e) => { if (!isGone(e)) throw e; });
      removed.push(name);
    }
    const links = (await run('ip', ['-o', 'link', 'show'])).split('\n').map((l) => l.split(': ')[1]?.split('@')[0]).filter((n): n is string => !!n && n.startsWith(this.naming.vethPrefix));
    for (const link of links) {
      const index = Number(link.slice(this.naming.vethPrefix.length).replace(/p$/, ''));
      if (keep.has(index)) continue;
      await run('ip', ['link', 'del', link]).catch((e) => { if (!isGone(e)) throw e; });
      removed.push(link);
    }
    const kept = inUse.map((index) => slotNames(this.naming, this.allocator.addresses(index)));
    for (const net of kept) {
      this.allocator.markInUse(net.index);
      this.assigned.set(net.index, net);
    }
    // Kept slots keep their elements (policy included; the owner applies its own again anyway),
    // every other sandbox's go, in one transaction.
    await this.firewall.reconcile(kept);
    return { kept: [...inUse], removed };
  }

  describe(): { pooled: number; pooledIndexes: number[]; inUse: number[]; capacity: number } {
    return {
      pooled: this.pool.length,
      pooledIndexes: this.pool.map((net) => net.index).sort((a, b) => a - b),
      inUse: [...this.assigned.keys()].sort((a, b) => a - b),
      capacity: this.allocatorOrUndefined?.capacity ?? MAX_SLOTS,
    };
  }

  /**
   * Stops refilling and tears down the pooled (unassigned) slots. Slots of live sandboxes stay:
   * the sandboxes outlive the agent. With removeHostRules the agent's nftables table goes too (only when
   * nothing of it is left).
   */
  async stop(options: { removeHostRules?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    await this.refilling;
    const errors: Error[] = [];
    for (const net of this.pool.splice(0)) {
      errors.push(...(await teardownSlot(net, this.firewall)));
      this.allocator.release(net.index);
    }
    if (options.removeHostRules) {
      const tableErrors = await this.firewall.teardown();
      errors.push(...tableErrors);
      // Nothing of the agent's is left on its addresses: another agent may have them.
      if (!tableErrors.length && !this.assigned.size) await this.rangeClaim.release();
    }
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }
}

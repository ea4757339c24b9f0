import { writeFile } from 'node:fs/promises';
import { CommandError, isGone, run } from './run-command';
import { EgressElements, egressElements, ResolvedEgress } from './egress-rules';
import { egressOfElements, egressSetElements, elementLines, elementsFromJson, elementsOf, renderTable, SANDBOX_SETS, SlotElements, SlotKey, slotElements, tableName } from './nft-ruleset';

interface Slot extends SlotKey {
  egress: EgressElements;
}

const sameElements = (a: EgressElements, b: EgressElements) => JSON.stringify(a) === JSON.stringify(b);
const isEmpty = (e: Partial<SlotElements>) => SANDBOX_SETS.every((s) => !e[s]?.length);

/**
 * The agent's firewall: one nftables table (see nft-ruleset.ts for what it does), created once
 * at start. A slot is a handful of set elements added or removed in one `nft -f` transaction,
 * so building or tearing down a slot costs the same at 10 sandboxes as at 1,000, and every
 * change is all-or-nothing: no packet sees half a slot or half a policy.
 *
 * It remembers each slot's elements to remove exactly those; when the kernel disagrees (a
 * removal refused because an element is already gone) it reads the table and removes what is
 * there.
 */
export class Firewall {
  readonly table: string;
  private readonly slots = new Map<number, Slot>();
  /**
   * The policy every slot is built with: the defaults (public internet yes, anything private
   * no), plus the operator's allowlist once the network manager has resolved it.
   */
  defaultEgress: ResolvedEgress = { allowOut: [], denyOut: [], allowInternetAccess: true };

  constructor(
    private readonly agentKey: string,
    /** Prefix shared by every sandbox-side host veth on this machine (all agents). */
    private readonly vethPrefix: string,
    /** The DNS resolvers sandboxes are given (their resolv.conf): open on port 53 only. */
    private readonly resolvers: readonly string[] = [],
  ) {
    this.table = tableName(agentKey);
  }

  private apply(lines: string[]): Promise<string> {
    return run('nft', ['-f', '-'], { input: `${lines.join('\n')}\n` });
  }

  /** Idempotent host setup: forwarding on, the table, its sets and chains (sandboxes' elements kept). */
  async setup(): Promise<void> {
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    try {
      await run('nft', ['-f', '-'], { input: renderTable({ agentKey: this.agentKey, vethPrefix: this.vethPrefix, resolvers: this.resolvers }) });
    } catch (error) {
      // No exit status: the program itself did not start (scripts/host-setup.mjs installs it).
      if (error instanceof CommandError && error.exitCode === null && !error.stderr.trim()) {
        throw new Error('the slot firewall needs `nft` (Debian package nftables), which could not be run', { cause: error });
      }
      throw error;
    }
  }

  /** Adds a slot's elements, with the default egress policy, in one transaction. */
  async addSlot(index: number, hostVeth: string, sandboxIp: string): Promise<void> {
    await this.addSlots([{ index, hostVeth, sandboxIp }]);
  }

  /** Adds the elements of several slots, each with the default egress policy, in one transaction. */
  async addSlots(slots: Array<{ index: number } & SlotKey>): Promise<void> {
    if (!slots.length) return;
    const egress = egressElements(this.defaultEgress);
    await this.apply(slots.flatMap((s) => elementLines(this.agentKey, 'add', slotElements(s, egress))));
    for (const s of slots) this.slots.set(s.index, { hostVeth: s.hostVeth, sandboxIp: s.sandboxIp, egress });
  }

  /**
   * Replaces the slot's egress elements in one transaction: no packet sees a half-applied
   * policy. Packets of connections already open meet the new policy too.
   */
  async setEgress(index: number, policy: ResolvedEgress): Promise<void> {
    const slot = this.slots.get(index);
    if (!slot) throw new Error(`network slot ${index} has no firewall elements`);
    const next = egressElements(policy);
    const add = elementLines(this.agentKey, 'add', egressSetElements(slot.sandboxIp, next));
    const replace = (old: Partial<SlotElements>) => this.apply([...elementLines(this.agentKey, 'delete', old), ...add]);
    try {
      await replace(egressSetElements(slot.sandboxIp, slot.egress));
    } catch {
      // What the kernel holds differs from what was added (removed by hand, a restart): replace that.
      const held = elementsOf(await this.elements(), (k) => k.sandboxIp === slot.sandboxIp);
      await replace({ deny_out: held.deny_out, allow_out: held.allow_out, no_internet: held.no_internet });
    }
    slot.egress = next;
  }

  /**
   * Puts the slot's egress back to the default policy (a slot recycled for another sandbox). A
   * slot that never left it (a sandbox with the default policy, most of them) costs no nft run:
   * the table is the agent's alone (no sandbox has CAP_NET_ADMIN in the host's namespace), so
   * what the agent last put in it for the slot is what the kernel holds.
   */
  async resetEgress(index: number): Promise<void> {
    const slot = this.slots.get(index);
    if (slot && sameElements(slot.egress, egressElements(this.defaultEgress))) return;
    await this.setEgress(index, this.defaultEgress);
  }

  /** The slot's egress elements as the kernel holds them (for tests and diagnostics). */
  async egressOf(index: number): Promise<EgressElements> {
    const slot = this.slots.get(index);
    if (!slot) throw new Error(`network slot ${index} has no firewall elements`);
    return egressOfElements(elementsOf(await this.elements(), (k) => k.sandboxIp === slot.sandboxIp));
  }

  /** Every sandbox's elements in the table now. */
  private async elements(): Promise<SlotElements> {
    return elementsFromJson(await run('nft', ['-j', 'list', 'table', 'ip', this.table]));
  }

  /**
   * Removes a slot's elements; returns every error (an element or the table already gone is not
   * one). One transaction with what was added; when it is refused, the elements the kernel still
   * holds for the slot.
   */
  async removeSlot(index: number, hostVeth: string, sandboxIp: string): Promise<Error[]> {
    const known = this.slots.get(index);
    const egress = known?.hostVeth === hostVeth ? known.egress : egressElements(this.defaultEgress);
    this.slots.delete(index);
    try {
      await this.apply(elementLines(this.agentKey, 'delete', slotElements({ hostVeth, sandboxIp }, egress)));
      return [];
    } catch {
      try {
        const held = elementsOf(await this.elements(), (k) => k.hostVeth === hostVeth || k.sandboxIp === sandboxIp);
        if (!isEmpty(held)) await this.apply(elementLines(this.agentKey, 'delete', held));
        return [];
      } catch (error) {
        return isGone(error) ? [] : [error as Error];
      }
    }
  }

  /**
   * After a restart: the table set up (rules of this version), the elements of every sandbox not
   * in `keep` removed in one transaction; kept slots hold on to their elements (their policy
   * included), and those that lost theirs get the default ones, all in a second transaction.
   */
  async reconcile(keep: Array<{ index: number } & SlotKey>): Promise<{ removed: number }> {
    await this.setup();
    const all = await this.elements();
    const intact = keep.filter((k) => all.slots.includes(`"${k.hostVeth}"`) && all.slot_src.includes(`"${k.hostVeth}" . ${k.sandboxIp}`));
    const veths = new Set(intact.map((k) => k.hostVeth));
    const ips = new Set(intact.map((k) => k.sandboxIp));
    // Anything not of an intact kept slot goes, a kept slot's half-present elements included.
    const stale = elementsOf(all, (k) => (k.hostVeth !== undefined ? !veths.has(k.hostVeth) : !ips.has(k.sandboxIp!)));
    if (!isEmpty(stale)) await this.apply(elementLines(this.agentKey, 'delete', stale));
    this.slots.clear();
    for (const slot of intact) {
      const held = elementsOf(all, (k) => k.hostVeth === slot.hostVeth || k.sandboxIp === slot.sandboxIp);
      this.slots.set(slot.index, { hostVeth: slot.hostVeth, sandboxIp: slot.sandboxIp, egress: egressOfElements(held) });
    }
    await this.addSlots(keep.filter((k) => !veths.has(k.hostVeth)));
    return { removed: SANDBOX_SETS.reduce((n, s) => n + stale[s].length, 0) };
  }

  /** Deletes the agent's table, and with it every slot's elements. */
  async teardown(): Promise<Error[]> {
    this.slots.clear();
    try {
      await run('nft', ['delete', 'table', 'ip', this.table]);
      return [];
    } catch (error) {
      return isGone(error) ? [] : [error as Error];
    }
  }

  async tableExists(): Promise<boolean> {
    return run('nft', ['list', 'table', 'ip', this.table]).then(() => true, () => false);
  }
}

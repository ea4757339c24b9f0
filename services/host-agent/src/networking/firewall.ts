import { isGone, run } from './run-command';
import { egressRules, REFUSE, ResolvedEgress } from './egress-rules';

type Rule = [table: string, chain: string, rule: string[]];


/**
 * iptables rules of one agent, kept in chains of its own (hooked once into INPUT, FORWARD and
 * nat POSTROUTING) so they can be listed, re-created after a restart and removed without
 * touching anyone else's rules. All of it sits on the host side of the slot's veth, where
 * nothing inside the sandbox can change it.
 *
 * Per slot:
 * - INPUT from the sandbox's veth: replies to connections the host began (the agent talking
 *   to envd), DNS to a resolver that is one of the host's own addresses; every other packet
 *   to any host address, on any port, is refused. The sandbox needs no host port: envd
 *   traffic flows host → sandbox;
 * - FORWARD: nothing to any sandbox's veth (of any agent); only the slot's own source address;
 *   then the slot's egress chain (WRENN-<key>-E<index>, see egress-rules.ts), replaced as one
 *   transaction when the sandbox's policy changes; towards the sandbox only replies;
 * - POSTROUTING: MASQUERADE egress that leaves through a non-sandbox interface.
 *
 * iptables rather than nftables: the rest of the agent's rules already are, iptables-restore
 * --noflush gives the same all-or-nothing per table, and on Debian 12 it drives nf_tables anyway.
 */
export class Firewall {
  readonly inChain: string;
  readonly fwdChain: string;
  readonly natChain: string;
  private readonly egressPrefix: string;
  /**
   * The policy every slot is built with: the defaults (public internet yes, anything private
   * no), plus the operator's allowlist once the network manager has resolved it.
   */
  defaultEgress: ResolvedEgress = { allowOut: [], denyOut: [], allowInternetAccess: true };

  constructor(
    agentKey: string,
    /** Prefix shared by every sandbox-side host veth on this machine (all agents). */
    private readonly vethPrefix: string,
    /** The DNS resolvers sandboxes are given (their resolv.conf): open on port 53 only. */
    private readonly resolvers: readonly string[] = [],
  ) {
    const key = agentKey.toUpperCase();
    this.inChain = `WRENN-${key}-IN`;
    this.fwdChain = `WRENN-${key}-FWD`;
    this.natChain = `WRENN-${key}-NAT`;
    this.egressPrefix = `WRENN-${key}-E`;
  }

  /** The slot's own egress chain. */
  egressChain(index: number): string {
    return `${this.egressPrefix}${index}`;
  }

  private async ensureChain(table: string, chain: string, hook: string): Promise<void> {
    await run('iptables', ['-w', '-t', table, '-N', chain]).catch((e) => {
      if (!/exists/i.test(String(e.stderr))) throw e;
    });
    const hooked = await run('iptables', ['-w', '-t', table, '-C', hook, '-j', chain]).then(() => true, () => false);
    if (!hooked) await run('iptables', ['-w', '-t', table, '-I', hook, '1', '-j', chain]);
  }

  /** Idempotent host setup: forwarding on, chains created and hooked. */
  async setup(): Promise<void> {
    const { writeFile } = await import('node:fs/promises');
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    await this.ensureChain('filter', this.inChain, 'INPUT');
    await this.ensureChain('filter', this.fwdChain, 'FORWARD');
    await this.ensureChain('nat', this.natChain, 'POSTROUTING');
  }

  private slotRules(index: number, hostVeth: string, sandboxIp: string): Rule[] {
    const others = `${this.vethPrefix}+`;
    const dns = this.resolvers.flatMap((ip) => ['udp', 'tcp'].map((proto): Rule => ['filter', this.inChain, ['-i', hostVeth, '-d', ip, '-p', proto, '--dport', '53', '-j', 'ACCEPT']]));
    return [
      ['filter', this.inChain, ['-i', hostVeth, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']],
      ...dns,
      ['filter', this.inChain, ['-i', hostVeth, ...REFUSE]],
      ['filter', this.fwdChain, ['-i', hostVeth, '-o', others, ...REFUSE]],
      ['filter', this.fwdChain, ['-i', hostVeth, '!', '-s', sandboxIp, '-j', 'DROP']],
      ['filter', this.fwdChain, ['-i', hostVeth, '-j', this.egressChain(index)]],
      ['filter', this.fwdChain, ['-o', hostVeth, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']],
      ['filter', this.fwdChain, ['-o', hostVeth, '-j', 'DROP']],
      ['nat', this.natChain, ['-s', sandboxIp, '!', '-o', others, '-j', 'MASQUERADE']],
    ];
  }

  /** The egress chain declared (created, or emptied if it exists) and filled, as restore lines. */
  private egressLines(index: number, policy: ResolvedEgress): string[] {
    const chain = this.egressChain(index);
    return [`:${chain} - [0:0]`, ...egressRules(policy, this.resolvers).map((rule) => ['-A', chain, ...rule].join(' '))];
  }

  /** Adds a slot's rules, its egress chain with the default policy, in one transaction per table. */
  async addSlot(index: number, hostVeth: string, sandboxIp: string): Promise<void> {
    await this.restore({ filter: this.egressLines(index, this.defaultEgress) }, '-A', this.slotRules(index, hostVeth, sandboxIp));
  }

  /**
   * Replaces the slot's egress chain in one transaction: no packet sees a half-applied policy.
   * Packets of connections already open meet the new rules too.
   */
  async setEgress(index: number, policy: ResolvedEgress): Promise<void> {
    await this.restore({ filter: this.egressLines(index, policy) }, '-A', []);
  }

  /** The egress chain's rules as iptables prints them (for tests and diagnostics). */
  async egressOf(index: number): Promise<string[]> {
    return (await run('iptables', ['-w', '-S', this.egressChain(index)])).split('\n').filter((l) => l.startsWith('-A '));
  }

  /**
   * Removes a slot's rules and its egress chain; tries each, returns every error (a missing
   * rule is not one). One batch first; only when it is refused (some rule already gone) rule by rule.
   */
  async removeSlot(index: number, hostVeth: string, sandboxIp: string): Promise<Error[]> {
    const rules = this.slotRules(index, hostVeth, sandboxIp);
    const chain = this.egressChain(index);
    const batch = { filter: [`-F ${chain}`, `-X ${chain}`] };
    if (await this.restore({}, '-D', rules, batch).then(() => true, () => false)) return [];
    const errors: Error[] = [];
    const attempt = (args: string[]) => run('iptables', ['-w', ...args]).catch((e) => {
      if (!isGone(e)) errors.push(e);
    });
    for (const [table, ch, rule] of rules) await attempt(['-t', table, '-D', ch, ...rule]);
    await attempt(['-F', chain]);
    await attempt(['-X', chain]);
    return errors;
  }

  /**
   * Applies rules with iptables-restore --noflush: each table's changes commit together or not
   * at all. `before` lines come first (chain declarations), `after` lines last (chain removal).
   */
  private async restore(before: Record<string, string[]>, action: '-A' | '-D', rules: Rule[], after: Record<string, string[]> = {}): Promise<void> {
    const tables = new Map<string, string[]>();
    const add = (table: string, line: string) => {
      if (!tables.has(table)) tables.set(table, []);
      tables.get(table)!.push(line);
    };
    for (const [table, lines] of Object.entries(before)) for (const line of lines) add(table, line);
    for (const [table, chain, rule] of rules) add(table, [action, chain, ...rule].join(' '));
    for (const [table, lines] of Object.entries(after)) for (const line of lines) add(table, line);
    const input = [...tables].map(([table, lines]) => `*${table}\n${lines.join('\n')}\nCOMMIT\n`).join('');
    await run('iptables-restore', ['-w', '--noflush'], { input });
  }

  /** This agent's egress chains that exist now. */
  private async egressChains(): Promise<string[]> {
    const listing = await run('iptables', ['-w', '-S']);
    return listing.split('\n').filter((l) => l.startsWith(`-N ${this.egressPrefix}`)).map((l) => l.slice(3).trim());
  }

  /** Empties the chains and removes every egress chain (recovery re-adds the rules of slots still in use). */
  async flush(): Promise<void> {
    for (const [table, chain] of [['filter', this.inChain], ['filter', this.fwdChain], ['nat', this.natChain]]) {
      await run('iptables', ['-w', '-t', table, '-F', chain]).catch((e) => {
        if (!isGone(e)) throw e;
      });
    }
    for (const chain of await this.egressChains()) {
      // A jump to it added since the flush above (a slot being built as we recover) keeps it
      // busy: empty the forward chain again and retry, a few times.
      for (let attempt = 0; ; attempt++) {
        try {
          await run('iptables', ['-w', '-F', chain]).catch((e) => {
            if (!isGone(e)) throw e;
          });
          await run('iptables', ['-w', '-X', chain]).catch((e) => {
            if (!isGone(e)) throw e;
          });
          break;
        } catch (error) {
          if (attempt >= 5 || !/busy/i.test(String((error as { stderr?: string }).stderr ?? error))) throw error;
          await run('iptables', ['-w', '-F', this.fwdChain]).catch(() => undefined);
        }
      }
    }
  }

  /** Unhooks and deletes the agent's chains, egress chains included. */
  async teardown(): Promise<Error[]> {
    const errors: Error[] = [];
    const steps: Array<[string, string, string]> = [['filter', this.inChain, 'INPUT'], ['filter', this.fwdChain, 'FORWARD'], ['nat', this.natChain, 'POSTROUTING']];
    for (const [table, chain, hook] of steps) {
      const attempt = (args: string[]) => run('iptables', ['-w', '-t', table, ...args]).catch((e) => {
        if (!isGone(e)) errors.push(e);
      });
      // A hook may have been inserted more than once by racing setups: remove them all.
      while (await run('iptables', ['-w', '-t', table, '-C', hook, '-j', chain]).then(() => true, () => false)) {
        await attempt(['-D', hook, '-j', chain]);
      }
      await attempt(['-F', chain]);
      await attempt(['-X', chain]);
    }
    // Only unreferenced once the FORWARD chain above is gone.
    for (const chain of await this.egressChains().catch(() => [])) {
      for (const op of ['-F', '-X']) {
        await run('iptables', ['-w', op, chain]).catch((e) => {
          if (!isGone(e)) errors.push(e);
        });
      }
    }
    return errors;
  }

  async chainsExist(): Promise<boolean> {
    return run('iptables', ['-w', '-t', 'filter', '-S', this.inChain]).then(() => true, () => false);
  }
}

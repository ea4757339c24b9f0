import { isGone, run } from './run-command';

/**
 * iptables rules of one agent, kept in chains of its own (hooked once into INPUT, FORWARD and
 * nat POSTROUTING) so they can be listed, re-created after a restart and removed without
 * touching anyone else's rules.
 *
 * Per slot:
 * - INPUT from the sandbox's veth: only its own host-side address (a server there is reachable,
 *   as the platform needs) and replies; every other host address is dropped;
 * - FORWARD: nothing to other sandboxes' veths; egress allowed, only replies come back in;
 * - POSTROUTING: MASQUERADE egress that leaves through a non-sandbox interface.
 */
export class Firewall {
  readonly inChain: string;
  readonly fwdChain: string;
  readonly natChain: string;

  constructor(
    agentKey: string,
    /** Prefix shared by every sandbox-side host veth on this machine (all agents). */
    private readonly vethPrefix: string,
  ) {
    const key = agentKey.toUpperCase();
    this.inChain = `WRENN-${key}-IN`;
    this.fwdChain = `WRENN-${key}-FWD`;
    this.natChain = `WRENN-${key}-NAT`;
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

  private slotRules(hostVeth: string, hostIp: string, sandboxIp: string): Array<[string, string, string[]]> {
    const others = `${this.vethPrefix}+`;
    return [
      ['filter', this.inChain, ['-i', hostVeth, '-d', hostIp, '-j', 'ACCEPT']],
      ['filter', this.inChain, ['-i', hostVeth, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']],
      ['filter', this.inChain, ['-i', hostVeth, '-j', 'DROP']],
      ['filter', this.fwdChain, ['-i', hostVeth, '-o', others, '-j', 'DROP']],
      ['filter', this.fwdChain, ['-i', hostVeth, '-s', sandboxIp, '-j', 'ACCEPT']],
      ['filter', this.fwdChain, ['-i', hostVeth, '-j', 'DROP']],
      ['filter', this.fwdChain, ['-o', hostVeth, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']],
      ['filter', this.fwdChain, ['-o', hostVeth, '-j', 'DROP']],
      ['nat', this.natChain, ['-s', sandboxIp, '!', '-o', others, '-j', 'MASQUERADE']],
    ];
  }

  /** Adds a slot's rules in one iptables-restore transaction per table (one process, not nine). */
  async addSlot(hostVeth: string, hostIp: string, sandboxIp: string): Promise<void> {
    await this.restore('-A', this.slotRules(hostVeth, hostIp, sandboxIp));
  }

  /**
   * Removes a slot's rules; tries each, returns every error (a missing rule is not one). One
   * batch first; only when it is refused (some rule already gone) rule by rule.
   */
  async removeSlot(hostVeth: string, hostIp: string, sandboxIp: string): Promise<Error[]> {
    const rules = this.slotRules(hostVeth, hostIp, sandboxIp);
    if (await this.restore('-D', rules).then(() => true, () => false)) return [];
    const errors: Error[] = [];
    for (const [table, chain, rule] of rules) {
      await run('iptables', ['-w', '-t', table, '-D', chain, ...rule]).catch((e) => {
        if (!isGone(e)) errors.push(e);
      });
    }
    return errors;
  }

  /** Applies rules with iptables-restore --noflush: each table's changes commit together or not at all. */
  private async restore(action: '-A' | '-D', rules: Array<[string, string, string[]]>): Promise<void> {
    const tables = new Map<string, string[]>();
    for (const [table, chain, rule] of rules) {
      if (!tables.has(table)) tables.set(table, []);
      tables.get(table)!.push([action, chain, ...rule].join(' '));
    }
    const input = [...tables].map(([table, lines]) => `*${table}\n${lines.join('\n')}\nCOMMIT\n`).join('');
    await run('iptables-restore', ['-w', '--noflush'], { input });
  }

  /** Empties the chains (recovery re-adds the rules of slots still in use). */
  async flush(): Promise<void> {
    for (const [table, chain] of [['filter', this.inChain], ['filter', this.fwdChain], ['nat', this.natChain]]) {
      await run('iptables', ['-w', '-t', table, '-F', chain]).catch((e) => {
        if (!isGone(e)) throw e;
      });
    }
  }

  /** Unhooks and deletes the agent's chains. */
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
    return errors;
  }

  async chainsExist(): Promise<boolean> {
    return run('iptables', ['-w', '-t', 'filter', '-S', this.inChain]).then(() => true, () => false);
  }
}

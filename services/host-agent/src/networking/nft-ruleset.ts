import { DEFAULT_DENIED_RANGES, EgressElements } from './egress-rules';

/**
 * The agent's nftables table as `nft -f` text: one table per agent (`ip wrenn-<key>`), whose
 * base chains are the same for every sandbox and dispatch through sets keyed by the sandbox's
 * host-side veth or its address. A sandbox adds and removes elements, never rules, so its cost
 * does not grow with the number of sandboxes (set lookups are hashes / interval trees).
 *
 * For a packet that arrives on one of the slots' veths (set `slots`):
 * - input (to any host address): replies to connections the host began (the agent talking to
 *   envd) and DNS to a resolver that is one of the host's own addresses pass; everything else
 *   is refused. The sandbox needs no host port: envd traffic flows host → sandbox;
 * - forward: nothing to any sandbox's veth (of any agent: every host-side veth starts with the
 *   shared prefix); only the slot's own source address (`slot_src`: veth . address); then the
 *   egress policy (egress-rules.ts) through the per-sandbox sets `deny_out`, `allow_out` (source
 *   address . destination CIDR) and `no_internet`; towards a slot's veth only replies;
 * - postrouting: masquerade when it leaves through a non-sandbox interface.
 *
 * IPv4 only (family `ip`): slots have IPv6 disabled on both ends of their veth (network-slot.ts).
 * Every rule sits on the host side of the veth, where nothing inside the sandbox can change it.
 *
 * Beside iptables-nft: another table's drop (e.g. a FORWARD policy DROP set with iptables) still
 * drops what this table accepts — an accept ends only this table's chain.
 */

export interface RulesetOptions {
  agentKey: string;
  /** Prefix shared by every sandbox-side host veth on this machine (all agents). */
  vethPrefix: string;
  /** The DNS resolvers sandboxes are given (their resolv.conf): open on port 53 only. */
  resolvers: readonly string[];
}

export interface SlotKey {
  hostVeth: string;
  sandboxIp: string;
}

export const tableName = (agentKey: string) => `wrenn-${agentKey}`;

/** The sets that hold one element (or several) per sandbox; the rest are the agent's own. */
export const SANDBOX_SETS = ['slots', 'slot_src', 'deny_out', 'allow_out', 'no_internet'] as const;
export type SandboxSet = (typeof SANDBOX_SETS)[number];

const REFUSE = 'reject with icmp type admin-prohibited';

const SETS: Array<[name: string, spec: string]> = [
  ['slots', 'type ifname;'],
  ['slot_src', 'type ifname . ipv4_addr;'],
  ['deny_out', 'type ipv4_addr . ipv4_addr; flags interval;'],
  ['allow_out', 'type ipv4_addr . ipv4_addr; flags interval;'],
  ['no_internet', 'type ipv4_addr;'],
  ['resolvers', 'type ipv4_addr;'],
  ['denied_ranges', 'type ipv4_addr; flags interval;'],
];

const quote = (name: string) => {
  // Interface names come from the agent's own naming; refuse anything that could end the string.
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new Error(`"${name}" is not an interface name`);
  return `"${name}"`;
};

function chains(options: RulesetOptions): Array<[name: string, base: string | undefined, rules: string[]]> {
  if (!/^[A-Za-z0-9_-]{1,8}$/.test(options.vethPrefix)) throw new Error(`"${options.vethPrefix}" is not a veth prefix`);
  const sandboxes = `"${options.vethPrefix}*"`;
  return [
    ['input', 'type filter hook input priority filter; policy accept;', [
      'iifname @slots ct state established,related accept',
      'iifname @slots ip daddr @resolvers meta l4proto { tcp, udp } th dport 53 accept',
      `iifname @slots ${REFUSE}`,
    ]],
    ['forward', 'type filter hook forward priority filter; policy accept;', [
      'iifname @slots jump from_sandbox',
      'oifname @slots ct state established,related accept',
      'oifname @slots drop',
    ]],
    ['from_sandbox', undefined, [
      `oifname ${sandboxes} ${REFUSE}`,
      'iifname . ip saddr != @slot_src drop',
      `ip saddr . ip daddr @deny_out ${REFUSE}`,
      'ip saddr . ip daddr @allow_out accept',
      'ip daddr @resolvers meta l4proto { tcp, udp } th dport 53 accept',
      `ip saddr @no_internet ${REFUSE}`,
      `ip daddr @denied_ranges ${REFUSE}`,
      'accept',
    ]],
    ['postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [`iifname @slots oifname != ${sandboxes} masquerade`]],
  ];
}

/**
 * The table, its sets and chains as one transaction that can run any number of times: chains
 * are emptied and filled again and the agent's own sets refilled, the sandboxes' elements stay.
 * So an agent that starts again (or a second manager of the same key) keeps the slots of live
 * sandboxes working, and a new version's rules replace the old ones in one step.
 */
export function renderTable(options: RulesetOptions): string {
  const t = `ip ${tableName(options.agentKey)}`;
  const lines = [`add table ${t}`];
  for (const [name, spec] of SETS) lines.push(`add set ${t} ${name} { ${spec} }`);
  const all = chains(options);
  for (const [name, base] of all) lines.push(base ? `add chain ${t} ${name} { ${base} }` : `add chain ${t} ${name}`);
  for (const [name] of all) lines.push(`flush chain ${t} ${name}`);
  for (const [name, , rules] of all) for (const rule of rules) lines.push(`add rule ${t} ${name} ${rule}`);
  for (const [name, values] of [['resolvers', options.resolvers], ['denied_ranges', DEFAULT_DENIED_RANGES]] as const) {
    lines.push(`flush set ${t} ${name}`);
    if (values.length) lines.push(`add element ${t} ${name} { ${values.join(', ')} }`);
  }
  return `${lines.join('\n')}\n`;
}

/** A sandbox's elements per set, in nft's element syntax. */
export type SlotElements = Record<SandboxSet, string[]>;

export function egressSetElements(sandboxIp: string, egress: EgressElements): Pick<SlotElements, 'deny_out' | 'allow_out' | 'no_internet'> {
  return {
    deny_out: egress.deny.map((cidr) => `${sandboxIp} . ${cidr}`),
    allow_out: egress.allow.map((cidr) => `${sandboxIp} . ${cidr}`),
    no_internet: egress.noInternet ? [sandboxIp] : [],
  };
}

export function slotElements(slot: SlotKey, egress: EgressElements): SlotElements {
  return { slots: [quote(slot.hostVeth)], slot_src: [`${quote(slot.hostVeth)} . ${slot.sandboxIp}`], ...egressSetElements(slot.sandboxIp, egress) };
}

/** `add element` / `delete element` lines for the given elements, one line per non-empty set. */
export function elementLines(agentKey: string, op: 'add' | 'delete', elements: Partial<SlotElements>): string[] {
  const t = `ip ${tableName(agentKey)}`;
  // Egress first on add, last on delete: within one transaction it makes no difference, but a
  // reader of the text sees the policy arrive before, and leave after, the slot it guards.
  const order: SandboxSet[] = op === 'add' ? ['deny_out', 'allow_out', 'no_internet', 'slot_src', 'slots'] : ['slots', 'slot_src', 'deny_out', 'allow_out', 'no_internet'];
  return order.filter((set) => elements[set]?.length).map((set) => `${op} element ${t} ${set} { ${elements[set]!.join(', ')} }`);
}

type JsonElement = string | { prefix: { addr: string; len: number } } | { concat: JsonElement[] } | { elem: { val: JsonElement } };

function elementText(value: JsonElement, family: 'name' | 'addr' | 'cidr'): string {
  if (typeof value === 'string') return family === 'name' ? `"${value}"` : family === 'cidr' && !value.includes('/') ? `${value}/32` : value;
  if ('elem' in value) return elementText(value.elem.val, family);
  if ('prefix' in value) return `${value.prefix.addr}/${value.prefix.len}`;
  throw new Error(`unexpected element ${JSON.stringify(value)}`);
}

const SET_FIELDS: Record<SandboxSet, Array<'name' | 'addr' | 'cidr'>> = {
  slots: ['name'],
  slot_src: ['name', 'addr'],
  deny_out: ['addr', 'cidr'],
  allow_out: ['addr', 'cidr'],
  no_internet: ['addr'],
};

/**
 * The sandboxes' elements in the table, from `nft -j list table`, in the syntax elementLines
 * writes (a /32 always with its prefix), so what is there compares with what was added.
 */
export function elementsFromJson(json: string): SlotElements {
  const out = Object.fromEntries(SANDBOX_SETS.map((s) => [s, [] as string[]])) as SlotElements;
  const doc = JSON.parse(json) as { nftables: Array<{ set?: { name: string; elem?: JsonElement[] } }> };
  for (const item of doc.nftables) {
    const set = item.set;
    if (!set || !(SANDBOX_SETS as readonly string[]).includes(set.name)) continue;
    const fields = SET_FIELDS[set.name as SandboxSet];
    for (const raw of set.elem ?? []) {
      const value = typeof raw === 'object' && 'elem' in raw ? raw.elem.val : raw;
      const parts = typeof value === 'object' && 'concat' in value ? value.concat : [value];
      out[set.name as SandboxSet].push(parts.map((part, i) => elementText(part, fields[i])).join(' . '));
    }
  }
  return out;
}

/** Which of the table's elements belong to the sandboxes for which `owned` says yes (by veth or by address). */
export function elementsOf(all: SlotElements, owned: (key: { hostVeth?: string; sandboxIp?: string }) => boolean): SlotElements {
  const veth = (e: string) => ({ hostVeth: e.split(' . ')[0].replace(/"/g, '') });
  const ip = (e: string) => ({ sandboxIp: e.split(' . ')[0] });
  return {
    slots: all.slots.filter((e) => owned(veth(e))),
    slot_src: all.slot_src.filter((e) => owned(veth(e))),
    deny_out: all.deny_out.filter((e) => owned(ip(e))),
    allow_out: all.allow_out.filter((e) => owned(ip(e))),
    no_internet: all.no_internet.filter((e) => owned(ip(e))),
  };
}

/** The egress policy a sandbox's elements say (for tests and diagnostics). */
export function egressOfElements(elements: SlotElements): EgressElements {
  const cidr = (e: string) => e.split(' . ')[1];
  return { deny: elements.deny_out.map(cidr), allow: elements.allow_out.map(cidr), noInternet: elements.no_internet.length > 0 };
}

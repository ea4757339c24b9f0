/** Addresses of one network slot: a /30 holding the host side and the sandbox side of a veth pair. */
export interface SlotAddresses {
  index: number;
  hostIp: string;
  sandboxIp: string;
  prefixLen: 30;
}

function parseIpv4(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address "${ip}"`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Hands out slot indexes within a CIDR, each a /30 (network, host, sandbox, broadcast), so no two
 * sandboxes ever share an address. Index 0 is skipped to keep the CIDR's network address unused.
 */
export class SlotAllocator {
  private readonly base: number;
  readonly capacity: number;
  private readonly used = new Set<number>();
  private next = 1;

  constructor(cidr: string, maxSlots?: number) {
    const [ip, bits] = cidr.split('/');
    const prefix = Number(bits);
    if (!Number.isInteger(prefix) || prefix < 8 || prefix > 28) throw new Error(`CIDR "${cidr}" must have a prefix between /8 and /28`);
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    this.base = (parseIpv4(ip) & mask) >>> 0;
    const slots = 2 ** (32 - prefix) / 4 - 1;
    this.capacity = Math.min(slots, maxSlots ?? slots);
  }

  addresses(index: number): SlotAddresses {
    if (!Number.isInteger(index) || index < 1 || index > this.capacity) throw new Error(`slot ${index} is outside 1..${this.capacity}`);
    const network = this.base + index * 4;
    return { index, hostIp: formatIpv4(network + 1), sandboxIp: formatIpv4(network + 2), prefixLen: 30 };
  }

  allocate(): SlotAddresses {
    if (this.used.size >= this.capacity) throw new Error(`all ${this.capacity} network slots are in use`);
    // Round-robin, so a just-released slot (and its conntrack entries) is not reused at once.
    while (this.used.has(this.next)) this.next = (this.next % this.capacity) + 1;
    const index = this.next;
    this.used.add(index);
    this.next = (index % this.capacity) + 1;
    return this.addresses(index);
  }

  markInUse(index: number): void {
    this.addresses(index);
    this.used.add(index);
  }

  release(index: number): void {
    this.used.delete(index);
  }

  inUse(): number[] {
    return [...this.used].sort((a, b) => a - b);
  }
}

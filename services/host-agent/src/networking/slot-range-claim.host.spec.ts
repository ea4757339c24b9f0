import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCidrFor, NetworkManager } from './network.manager';
import { unusedSlotCidr, usedTenSlash16s } from './host-addresses';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args).toString();
const key = () => `c${randomBytes(2).toString('hex')}`;

/** Two fresh keys whose derived ranges are the same /16, one nothing on this host uses yet. */
function collidingKeys(): [string, string] {
  const used = usedTenSlash16s();
  for (;;) {
    const a = key();
    const octet = Number(defaultCidrFor(a).split('.')[1]);
    if (used.has(octet) || used.has(128 + ((octet - 128 + 1) % 120))) continue;
    for (let i = 0; i < 10_000; i++) {
      const b = key();
      if (b !== a && defaultCidrFor(b) === defaultCidrFor(a)) return [a, b];
    }
  }
}

/** The interface the host sends a packet for this address out of. */
const routeDev = (ip: string) => /dev (\S+)/.exec(sh('ip', ['route', 'get', ip]))![1];

describe('slot address ranges of several agents on one machine (root, kernel)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wrenn-net-ranges-'));
  const managers: NetworkManager[] = [];
  const manager = (agentKey: string, cidr?: string) => {
    const m = new NetworkManager({ agentKey, cidr, poolSize: 0, claimDir: dir });
    managers.push(m);
    return m;
  };
  after(async () => {
    // Slots still assigned (an assertion failed before their release) go first, then the tables.
    for (const m of managers) {
      for (const index of m.describe().inUse) await m.release(index).catch(() => undefined);
      await m.stop({ removeHostRules: true }).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a second agent whose key derives the same /16 another one: each sandbox gets its own replies', async () => {
    const [a, b] = collidingKeys();
    const first = manager(a);
    const second = manager(b);
    await first.start();
    const netA = await first.acquire();
    await second.start();
    const netB = await second.acquire();
    assert.notEqual(second.cidr, first.cidr);
    assert.notEqual(netB.sandboxIp, netA.sandboxIp);
    // Packets for each sandbox leave through its own veth, not the other agent's.
    assert.equal(routeDev(netA.sandboxIp), netA.hostVeth);
    assert.equal(routeDev(netB.sandboxIp), netB.hostVeth);
    await first.release(netA.index);
    await second.release(netB.index);

    // Stopped and gone, the first agent's range is free again; a restart of the second keeps its own.
    await first.stop({ removeHostRules: true });
    const again = manager(b);
    await again.start();
    assert.equal(again.cidr, second.cidr, 'an agent started again keeps its range');
    const third = manager(a);
    await third.start();
    assert.equal(third.cidr, defaultCidrFor(a));
  });

  it('refuses, loudly and before building anything, a configured range another agent holds', async () => {
    const cidr = unusedSlotCidr(207);
    const holder = manager(key(), cidr);
    await holder.start();
    const slot = await holder.acquire();
    const otherKey = key();
    const other = manager(otherKey, cidr);
    await assert.rejects(other.start(), new RegExp(`claimed by agent ${holder.agentKey}`));
    await assert.rejects(other.acquire(), /claimed by agent/);
    assert.ok(!sh('ip', ['-o', 'link']).includes(`wh${otherKey}-`), 'no slot of the refused agent exists');
    // An overlapping range that is not the same text is refused as well.
    await assert.rejects(manager(key(), cidr.replace('/16', '/24')).start(), /claimed by agent/);
    await holder.release(slot.index);
  });

  it('takes over the claim of an agent that left nothing behind', async () => {
    const cidr = unusedSlotCidr(205);
    writeFileSync(join(dir, cidr.replace('/', '_')), 'zdead\n');
    const m = manager(key(), cidr);
    await m.start();
    assert.equal(m.cidr, cidr);
    assert.ok(readdirSync(dir).includes(cidr.replace('/', '_')));
  });
});

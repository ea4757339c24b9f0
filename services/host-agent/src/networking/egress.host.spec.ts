import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, Server } from 'node:net';
import { NetworkManager } from './network.manager';
import { SandboxNetwork } from './network-slot';
import { unusedSlotCidr } from './host-addresses';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(232);

/**
 * Probes of the egress policy from inside real slots (root, kernel). Every peer is a listener
 * on the host itself or in a network namespace this file makes ("the lab"): a private host,
 * a metadata address, a public-looking host and a stand-in DNS resolver, routed from the host.
 */
const KEY = `e${randomBytes(2).toString('hex')}`;
const NET = `10.99.${randomBytes(1)[0]}`;
const LAB = { ns: `wtest-${KEY}`, hostVeth: `wt${KEY}h`, peer: `wt${KEY}n`, gw: `${NET}.1`, private: `${NET}.2`, resolver: `${NET}.53`, metadata: '169.254.169.254', public: '203.0.113.10' };
const PORT = 8080;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args).toString();
const leftovers = () => ({
  netns: sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`wrenn-${KEY}-`) || n === LAB.ns),
  links: sh('ip', ['-o', 'link']).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => n.startsWith(`wh${KEY}-`) || n.startsWith(`wt${KEY}`)),
  rules: sh('nft', ['list', 'tables']).includes(`table ip wrenn-${KEY}\n`) ? sh('nft', ['list', 'table', 'ip', `wrenn-${KEY}`]).split('\n').filter(Boolean) : [],
});

/** TCP listeners on every address of a netns, each answering "ok" and closing. */
const LISTEN = `const net=require('net');for(const p of JSON.parse(process.argv[1])){net.createServer(s=>s.end('ok')).listen(p,'0.0.0.0')}setTimeout(()=>console.log('ready'),50);`;

/** Connects to each target from where it runs; prints which answered "ok" (1.5 s each, in parallel). */
const PROBE = `const net=require('net');const t=JSON.parse(process.argv[1]);
Promise.all(t.map(([h,p])=>new Promise(r=>{const s=net.connect({host:h,port:p});let d='';const done=v=>{s.destroy();r(v)};
s.setTimeout(1500,()=>done('timeout'));s.on('data',c=>{d+=c;if(d==='ok')done('ok')});s.on('error',e=>done(e.code));s.on('end',()=>done(d||'closed'))})))
.then(v=>console.log(JSON.stringify(v)));`;

function listenIn(ns: string, ports: number[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', LISTEN, JSON.stringify(ports)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`listener in ${ns} exited ${code}`)));
  });
}

/** From inside a slot: for each [host, port], "ok" when it answered, else the error. */
function probe(net: SandboxNetwork, targets: Array<[string, number]>): string[] {
  return JSON.parse(sh('ip', ['netns', 'exec', net.netnsName, process.execPath, '-e', PROBE, JSON.stringify(targets)]));
}
const reach = (net: SandboxNetwork, host: string, port = PORT) => probe(net, [[host, port]])[0] === 'ok';

function hostAddresses(): string[] {
  return sh('ip', ['-4', '-o', 'addr', 'show'])
    .split('\n')
    .map((l) => /inet (\S+)\//.exec(l)?.[1])
    .filter((ip): ip is string => !!ip && !ip.startsWith('127.'));
}

describe('egress policy of a slot (root, kernel)', () => {
  const manager = new NetworkManager({
    agentKey: KEY,
    cidr: SLOT_CIDR,
    poolSize: 0,
    hostResolvConf: `nameserver 127.0.0.53\nnameserver ${LAB.resolver}\n`,
    resolveName: async (name) => (name === 'lab.wrenn.test' ? [LAB.private] : Promise.reject(new Error('unknown name'))),
  });
  const children: ChildProcess[] = [];
  let hostListener: Server;
  let hostPort: number;
  let a: SandboxNetwork;
  let b: SandboxNetwork;

  before(async () => {
    sh('ip', ['netns', 'add', LAB.ns]);
    sh('ip', ['link', 'add', LAB.hostVeth, 'type', 'veth', 'peer', 'name', LAB.peer]);
    sh('ip', ['link', 'set', LAB.peer, 'netns', LAB.ns]);
    sh('ip', ['addr', 'add', `${LAB.gw}/24`, 'dev', LAB.hostVeth]);
    sh('ip', ['link', 'set', LAB.hostVeth, 'up']);
    const inLab = (...args: string[]) => sh('ip', ['-n', LAB.ns, ...args]);
    inLab('link', 'set', 'lo', 'up');
    inLab('link', 'set', LAB.peer, 'up');
    for (const ip of [`${LAB.private}/24`, `${LAB.resolver}/24`, `${LAB.metadata}/32`, `${LAB.public}/32`]) inLab('addr', 'add', ip, 'dev', LAB.peer);
    inLab('route', 'add', 'default', 'via', LAB.gw);
    // The host routes the metadata and the public-looking address to the lab, as a cloud's would.
    for (const ip of [LAB.metadata, LAB.public]) sh('ip', ['route', 'add', `${ip}/32`, 'via', LAB.private]);
    children.push(await listenIn(LAB.ns, [PORT, 53, 5353]));

    hostListener = createServer((s) => s.end('ok')).listen(0, '0.0.0.0');
    await once(hostListener, 'listening');
    hostPort = (hostListener.address() as { port: number }).port;

    await manager.start();
    a = await manager.acquire();
    b = await manager.acquire();
    children.push(await listenIn(b.netnsName, [PORT]));
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    hostListener?.close();
    for (const net of [a, b]) if (net) await manager.release(net.index);
    await manager.stop({ removeHostRules: true });
    sh('ip', ['link', 'del', LAB.hostVeth]); // the pair, and the routes through it
    sh('ip', ['netns', 'del', LAB.ns]);
    assert.deepEqual(leftovers(), { netns: [], links: [], rules: [] }, 'the host is left as found');
  });

  it('reaches a public address (the lab is working)', () => {
    assert.ok(reach(a, LAB.public));
  });

  it('does not reach a listener on the host (0.0.0.0) via the gateway address or any other host address', () => {
    const targets = [a.hostIp, b.hostIp, LAB.gw, ...hostAddresses()].map((ip): [string, number] => [ip, hostPort]);
    const results = probe(a, targets);
    assert.deepEqual(results.filter((r) => r === 'ok'), [], `answered: ${targets.filter((_, i) => results[i] === 'ok').map(([ip]) => ip).join(', ')}`);
  });

  it('does not reach link-local metadata (169.254.169.254)', () => {
    assert.deepEqual(probe(a, [[LAB.metadata, PORT], [LAB.metadata, 80]]).map((r) => r === 'ok'), [false, false]);
  });

  it('does not reach another sandbox, while the host still reaches it (envd traffic)', async () => {
    assert.deepEqual(probe(a, [[b.sandboxIp, PORT], [b.hostIp, PORT]]).map((r) => r === 'ok'), [false, false]);
    assert.deepEqual(probe(b, [[a.sandboxIp, PORT]]).map((r) => r === 'ok'), [false]);
    const fromHost = await new Promise<string>((resolve) => {
      const s = require('node:net').connect({ host: b.sandboxIp, port: PORT });
      let d = '';
      s.on('data', (c: Buffer) => (d += c));
      s.on('end', () => resolve(d));
      s.on('error', (e: Error) => resolve(e.message));
    });
    assert.equal(fromHost, 'ok');
  });

  it('reaches the DNS resolver on port 53 only, though it is private', () => {
    assert.deepEqual(probe(a, [[LAB.resolver, 53], [LAB.resolver, 5353], [LAB.resolver, PORT]]).map((r) => r === 'ok'), [true, false, false]);
  });

  it('opens a private address with allowOut, and a live change takes it away again', async () => {
    assert.equal(reach(a, LAB.private), false, 'private by default');
    await manager.applyPolicy(a.index, { allowOut: [`${LAB.private}/32`], denyOut: [], allowInternetAccess: true });
    assert.equal(reach(a, LAB.private), true, 'allowOut opens it');
    assert.equal(reach(b, LAB.private), false, 'only for that sandbox');
    await manager.applyPolicy(a.index, { allowOut: [], denyOut: [], allowInternetAccess: true });
    assert.equal(reach(a, LAB.private), false, 'the change takes it away');
  });

  it('lets denyOut win over allowOut, resolves domain names, and with the internet off keeps only allowOut and DNS', async () => {
    await manager.applyPolicy(a.index, { allowOut: [`${NET}.0/24`], denyOut: [`${LAB.private}/32`, LAB.public], allowInternetAccess: true });
    assert.deepEqual(probe(a, [[LAB.private, PORT], [LAB.public, PORT], [LAB.resolver, PORT]]).map((r) => r === 'ok'), [false, false, true]);
    await manager.applyPolicy(a.index, { allowOut: ['lab.wrenn.test', 'nowhere.wrenn.test'], denyOut: [], allowInternetAccess: false });
    assert.deepEqual(probe(a, [[LAB.private, PORT], [LAB.public, PORT], [LAB.resolver, 53], [LAB.metadata, PORT]]).map((r) => r === 'ok'), [true, false, true, false]);
    await manager.applyPolicy(a.index, { allowOut: [], denyOut: [], allowInternetAccess: true });
  });

  it('has no IPv6 on either end of the veth, and the host side stays closed if the sandbox turns it back on', async () => {
    assert.equal(sh('ip', ['-n', a.netnsName, '-6', 'addr', 'show', 'dev', 'eth0']).trim(), '');
    assert.equal(sh('ip', ['-6', 'addr', 'show', 'dev', a.hostVeth]).trim(), '');
    // Root in the sandbox re-enables IPv6 on its end; the host side's link-local address (what
    // the kernel would have given it) must still not answer a host listener on [::].
    sh('ip', ['netns', 'exec', a.netnsName, 'sh', '-c', 'echo 0 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6']);
    const v6 = createServer((s) => s.end('ok')).listen(0, '::');
    await once(v6, 'listening');
    try {
      const mac = sh('cat', [`/sys/class/net/${a.hostVeth}/address`]).trim().split(':').map((x) => parseInt(x, 16));
      mac[0] ^= 2;
      const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
      const linkLocal = `fe80::${hex(mac[0], mac[1])}:${hex(mac[2], 0xff)}:${hex(0xfe, mac[3])}:${hex(mac[4], mac[5])}%eth0`;
      assert.notEqual(probe(a, [[linkLocal, (v6.address() as { port: number }).port]])[0], 'ok');
    } finally {
      v6.close();
    }
  });
});

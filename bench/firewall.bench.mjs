#!/usr/bin/env node
// The slot firewall's cost per sandbox as the number of sandboxes grows: time to add and to
// remove one slot's firewall with 10 and with 1,000 slots already in place, for the iptables
// firewall this replaced (per-slot rules and an egress chain per slot, from a baseline commit)
// and for the nftables table (per-slot set elements), printed side by side.
//
//   node bench/firewall.bench.mjs [--baseline <commit>] [--samples N]
//
// Needs root, `nft`, and `iptables` for the baseline column (skipped without it). Bounded: at
// most 1,000 slots of rules or elements, no traffic, no interfaces (names and addresses are only
// rule and element values), an agent key of its own; everything it adds is removed at the end.
// The baseline's firewall.ts (with egress-rules.ts and run-command.ts) is read from git and
// compiled on the fly, so the comparison runs in one process on the same machine state.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { Firewall } = require('../services/host-agent/dist/networking/firewall.js');
const { elementLines, slotElements } = require('../services/host-agent/dist/networking/nft-ruleset.js');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
/** The last commit whose slot firewall was iptables rules. */
const BASELINE = arg('--baseline', 'ad54313');
const SAMPLES = Number(arg('--samples', 10));
const SIZES = [10, 1000];
const RESOLVERS = ['10.255.255.53'];
const DEFAULT_EGRESS = { allowOut: [], denyOut: [], allowInternetAccess: true };

const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const slot = (key, i) => ({ index: i, hostVeth: `wh${key}-${i}`, sandboxIp: `10.${200 + Math.floor(i / 16384)}.${Math.floor(i / 64) % 256}.${(i % 64) * 4 + 2}` });
const has = (bin) => spawnSync('sh', ['-c', 'command -v "$0"', bin], { stdio: 'ignore' }).status === 0;

/** The baseline's iptables Firewall class, compiled from git into a temporary directory. */
function baselineFirewall(dir) {
  const ts = require('typescript');
  for (const name of ['firewall', 'egress-rules', 'run-command']) {
    const source = execFileSync('git', ['-C', root, 'show', `${BASELINE}:services/host-agent/src/networking/${name}.ts`], { encoding: 'utf8' });
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
    writeFileSync(join(dir, `${name}.js`), outputText);
  }
  return require(join(dir, 'firewall.js')).Firewall;
}

/**
 * One implementation: `fill(from, to)` puts slots in place in bulk (one transaction: how they got
 * there is not what is measured), `add`/`remove` are the per-slot operations the agent runs.
 */
function iptablesSubject(IptablesFirewall, key) {
  const fw = new IptablesFirewall(key, 'wh', RESOLVERS);
  return {
    name: 'iptables',
    fw,
    async fill(from, to) {
      const before = { filter: [] };
      const rules = [];
      for (let i = from; i < to; i++) {
        const s = slot(key, i);
        before.filter.push(...fw.egressLines(i, DEFAULT_EGRESS));
        rules.push(...fw.slotRules(i, s.hostVeth, s.sandboxIp));
      }
      await fw.restore(before, '-A', rules);
    },
    add: (s) => fw.addSlot(s.index, s.hostVeth, s.sandboxIp),
    remove: async (s) => {
      const errors = await fw.removeSlot(s.index, s.hostVeth, s.sandboxIp);
      if (errors.length) throw errors[0];
    },
  };
}

function nftSubject(key) {
  const fw = new Firewall(key, 'wh', RESOLVERS);
  const none = { deny: [], allow: [], noInternet: false };
  return {
    name: 'nftables',
    fw,
    async fill(from, to) {
      const lines = [];
      for (let i = from; i < to; i++) lines.push(...elementLines(key, 'add', slotElements(slot(key, i), none)));
      execFileSync('nft', ['-f', '-'], { input: `${lines.join('\n')}\n` });
    },
    add: (s) => fw.addSlot(s.index, s.hostVeth, s.sandboxIp),
    remove: async (s) => {
      const errors = await fw.removeSlot(s.index, s.hostVeth, s.sandboxIp);
      if (errors.length) throw errors[0];
    },
  };
}

/** Median and p99 add/remove times of SAMPLES slots (each added, then removed) at each size. */
async function measure(subject, key) {
  const out = {};
  let filled = 0;
  await subject.fw.setup();
  for (const size of SIZES) {
    await subject.fill(filled, size);
    filled = size;
    const add = [];
    const remove = [];
    for (let i = 0; i < SAMPLES; i++) {
      const s = slot(key, 50_000 + i);
      let t = performance.now();
      await subject.add(s);
      add.push(performance.now() - t);
      t = performance.now();
      await subject.remove(s);
      remove.push(performance.now() - t);
    }
    out[size] = { add, remove };
  }
  return out;
}

const results = {};
const dir = mkdtempSync(join(tmpdir(), 'wrenn-fwbench-'));
try {
  const key = `n${randomBytes(2).toString('hex')}`;
  const subject = nftSubject(key);
  try {
    results.nftables = await measure(subject, key);
  } finally {
    const errors = await subject.fw.teardown();
    if (errors.length) console.error('nftables teardown:', errors.map((e) => e.message).join('; '));
  }
  if (has('iptables')) {
    const key = `i${randomBytes(2).toString('hex')}`;
    const subject = iptablesSubject(baselineFirewall(dir), key);
    try {
      results.iptables = await measure(subject, key);
    } finally {
      const errors = await subject.fw.teardown();
      if (errors.length) console.error('iptables teardown:', errors.map((e) => e.message).join('; '));
    }
  } else console.log(`iptables is not installed: no baseline column (install it to compare with ${BASELINE})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const cell = (xs) => (xs ? `${pct(xs, 50).toFixed(1)} / ${pct(xs, 99).toFixed(1)}` : '—');
console.log(`slot firewall, one slot added then removed, ms p50 / p99 (n=${SAMPLES} each); iptables = ${BASELINE}, nftables = this tree`);
console.log('| slots in place | iptables add | iptables remove | nftables add | nftables remove |');
console.log('|---|---|---|---|---|');
for (const size of SIZES) {
  const ip = results.iptables?.[size];
  const nf = results.nftables[size];
  console.log(`| ${size} | ${cell(ip?.add)} | ${cell(ip?.remove)} | ${cell(nf.add)} | ${cell(nf.remove)} |`);
}
const ratio = (r, op) => (r ? (pct(r[1000][op], 50) / pct(r[10][op], 50)).toFixed(2) : '—');
console.log(`1,000 vs 10 (p50 ratio): iptables add ${ratio(results.iptables, 'add')}x, remove ${ratio(results.iptables, 'remove')}x; nftables add ${ratio(results.nftables, 'add')}x, remove ${ratio(results.nftables, 'remove')}x`);

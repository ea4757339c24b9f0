#!/usr/bin/env node
// `npm test`: builds, then runs every suite with Node's test runner, in layers:
// unit → integration (real PostgreSQL + NATS) → host (root, kernel) → end-to-end (REST).
// `npm test -- unit` (or int, host, e2e) runs one layer; files run one at a time because the
// host-level and end-to-end suites share the kernel.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.spec.js')) out.push(path);
  }
  return out;
}
const files = ['libs', 'services', 'tools', 'test']
  .flatMap((top) => {
    try {
      return readdirSync(join(root, top)).map((pkg) => join(root, top, pkg, 'dist'));
    } catch {
      return [];
    }
  })
  .filter((dist) => { try { return statSync(dist).isDirectory(); } catch { return false; } })
  .flatMap((dist) => find(dist))
  .sort();

const layerOf = (f) => (f.endsWith('.e2e.spec.js') ? 'e2e' : f.endsWith('.host.spec.js') ? 'host' : f.endsWith('.int.spec.js') ? 'int' : 'unit');
const order = ['unit', 'int', 'host', 'e2e'];
const wanted = process.argv.slice(2).filter((a) => order.includes(a));
const selected = files
  .filter((f) => wanted.length === 0 || wanted.includes(layerOf(f)))
  .sort((a, b) => order.indexOf(layerOf(a)) - order.indexOf(layerOf(b)) || a.localeCompare(b));
// The leftover check must run after everything else that touches the host.
selected.sort((a, b) => Number(a.includes('zz-')) - Number(b.includes('zz-')));

console.log(`running ${selected.length} test files:\n${selected.map((f) => `  ${relative(root, f)}`).join('\n')}`);
// Human-readable progress on stdout, TAP on the side for the closing tally.
const tap = join(mkdtempSync(join(tmpdir(), 'test-results-')), 'results.tap');
// What the host held before the run, so the final leftover check blames the suite only for
// what the suite made (an operator's Wrenn on the same host keeps its own netns and rules).
const baseline = join(dirname(tap), 'host-baseline.json');
const listOf = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
};
writeFileSync(
  baseline,
  JSON.stringify({
    netns: listOf('ip', ['netns', 'list']),
    links: listOf('ip', ['-o', 'link']).map((l) => l.split(': ')[1]?.split('@')[0]).filter(Boolean),
    iptables: [...listOf('iptables', ['-w', '-S']), ...listOf('iptables', ['-w', '-t', 'nat', '-S'])],
    cgroups: ['cpu', 'memory', 'pids', 'freezer', 'devices'].flatMap((c) => listOf('ls', [`/sys/fs/cgroup/${c}`]).map((d) => `${c}/${d}`)),
  }),
);
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...selected],
  { cwd: root, stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', WRENN_HOST_BASELINE: baseline } },
);
const summary = readFileSync(tap, 'utf8');
const count = (name) => Number(summary.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
const [passed, failed, skipped] = ['pass', 'fail', 'skipped'].map(count);
rmSync(dirname(tap), { recursive: true, force: true });
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(result.status ?? 1);

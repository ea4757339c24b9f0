#!/usr/bin/env node
// Builds the native addon (native/, node-addon-api + node-gyp) when it is missing or older than
// its sources. Run by the root `prepare` script (so `npm ci` on a clean clone builds it: npm 11
// does not run dependencies' install scripts, but it does run the root's own `prepare`) and by
// `npm run build` (so a checkout whose addon was deleted or whose sources changed gets rebuilt).
// `--force` rebuilds regardless.
//
// Only the host agent's Firecracker runtime loads the addon. On a machine without a compiler
// toolchain (a slim container running the API services) a missing toolchain is a warning, not
// a failed install; WRENN_REQUIRE_NATIVE=1 makes it an error. A compile that starts and fails is
// always an error.
//
// `--test-guest` builds the test-only addon instead (wrenn_test_guest.node: the userfaultfd guest
// stand-in that tests and benchmarks use, and views of the device filter's program), so the production addon carries no test code.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptInstall } from './host-setup.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native');
// The product is the addon, the sandbox helper and its init agent (native/sandbox); the test build is the guest stand-in.
const testGuest = process.argv.includes('--test-guest');
const targets = testGuest ? ['wrenn_test_guest'] : ['wrenn_native', 'wrenn-sandbox', 'wrenn-init-agent'];
// Addons are name.node; the two programs (the sandbox helper and its init agent) have dashes.
const outputs = targets.map((t) => join(dir, 'build', 'Release', t.includes('-') ? t : `${t}.node`));
const force = process.argv.includes('--force');

if (process.platform !== 'linux') {
  console.log('native addon: skipped (userfaultfd is Linux-only)');
  process.exit(0);
}

const sources = [
  join(dir, 'binding.gyp'),
  ...readdirSync(join(dir, 'src')).filter((f) => testGuest || !f.startsWith('test-')).map((f) => join(dir, 'src', f)),
  ...(testGuest ? [] : readdirSync(join(dir, 'sandbox')).map((f) => join(dir, 'sandbox', f))),
];
const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
if (!force && outputs.every((f) => existsSync(f) && statSync(f).mtimeMs >= newest)) process.exit(0);

// The sandbox helper links libseccomp: its headers come from Debian's libseccomp-dev, installed
// here when missing (as root), so `npm ci` on a fresh machine builds the whole product.
if (targets.includes('wrenn-sandbox') && !existsSync('/usr/include/seccomp.h')) {
  try {
    aptInstall(['libseccomp-dev']);
  } catch (error) {
    const message = `native addon: the sandbox helper is not built, libseccomp-dev is missing (${error.message}); the namespace runtime needs it`;
    if (process.env.WRENN_REQUIRE_NATIVE === '1') {
      console.error(message);
      process.exit(1);
    }
    console.warn(message);
    targets.splice(targets.indexOf('wrenn-sandbox'), 1);
    outputs.splice(outputs.findIndex((f) => f.endsWith('wrenn-sandbox')), 1);
  }
}

const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const missing = ['python3', 'make', 'c++'].filter((t) => !has(t));
if (missing.length > 0) {
  const message = `native addon: not built, missing ${missing.join(', ')} (the Firecracker runtime needs it)`;
  if (process.env.WRENN_REQUIRE_NATIVE === '1') {
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
  process.exit(0);
}

// node-gyp is a root dev dependency; npm's own copy is the fallback when dev dependencies are
// omitted (npm passes its path to scripts as npm_config_node_gyp).
let gyp;
try {
  gyp = createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = process.env.npm_config_node_gyp;
}
if (!gyp || !existsSync(gyp)) {
  console.error('native addon: node-gyp not found (npm ci installs it as a dev dependency)');
  process.exit(1);
}
// Headers installed with Node itself (distro packages and the official tarballs both ship
// include/node) spare node-gyp a download from nodejs.org, which hosts without internet lack.
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];

console.log(`native addon: building ${targets.join(', ')} (native/) with node-gyp`);
const run = (args) => spawnSync(process.execPath, [gyp, ...args, ...nodedir], { cwd: dir, stdio: 'inherit' });
// A Makefile from before binding.gyp changed lacks targets added since: configure again.
const makefile = join(dir, 'build', 'Makefile');
const configured = existsSync(makefile) && statSync(makefile).mtimeMs >= statSync(join(dir, 'binding.gyp')).mtimeMs;
const r = (configured && !force ? { status: 0 } : run(['configure', '--release']));
// Only the one target: node-gyp hands it to make.
const b = r.status === 0 ? run(['build', '--release', '--jobs', '2', ...targets]) : r;
if (b.status !== 0) {
  console.error('native addon: build failed (needs python3, make and a C++17 compiler)');
  process.exit(b.status ?? 1);
}
// make leaves an up-to-date target's time alone: mark the outputs as built now.
const now = new Date();
for (const f of outputs) if (existsSync(f)) utimesSync(f, now, now);

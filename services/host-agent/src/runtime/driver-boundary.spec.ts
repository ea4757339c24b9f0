import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** The host resources the lifecycle (sandbox/) owns; a driver gets their results as plain data. */
const RESOURCE_FOLDERS = ['networking', 'rootfs', 'envd-client', 'envd-proxy', 'ids', 'sandbox', 'data-plane'];
/** The agent's wiring: it picks the runtime and hands it its resources. Not a driver. */
const WIRING = new Set(['create-runtime.ts', 'select-runtime.ts']);
const RUNTIME = resolve(__dirname, '../../src/runtime');

/** The TypeScript sources of runtime/ (this test runs from dist/, the sources sit beside it), specs aside. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Imports (static, re-exports, require, dynamic) of `text`, a file at `file`, that reach a resource folder. */
export function resourceImports(file: string, text: string): string[] {
  const specs = [...text.matchAll(/\b(?:import|export)\b[^;'"]*?\bfrom\s+['"]([^'"]+)['"]|\bimport\s+['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (m) => m[1] ?? m[2] ?? m[3] ?? m[4],
  );
  return specs.filter((spec) => {
    if (!spec.startsWith('.')) return false;
    const target = relative(resolve(RUNTIME, '..'), resolve(dirname(file), spec));
    return RESOURCE_FOLDERS.some((folder) => target === folder || target.startsWith(`${folder}/`));
  });
}

describe('runtime drivers know nothing of the host resources', () => {
  const files = sources(RUNTIME).filter((f) => !WIRING.has(relative(RUNTIME, f)));

  it('finds the drivers to check', () => {
    const names = files.map((f) => relative(RUNTIME, f));
    for (const expected of ['driver.ts', 'namespace/namespace.driver.ts', 'firecracker/firecracker.driver.ts']) assert.ok(names.includes(expected), `${expected} among ${names.join(', ')}`);
  });

  it('no file under runtime/ (but the wiring) imports networking/, rootfs/, envd-client/, ids/ or sandbox/', () => {
    const offending = files.flatMap((file) => resourceImports(file, readFileSync(file, 'utf8')).map((spec) => `${relative(RUNTIME, file)} → ${spec}`));
    assert.deepEqual(offending, []);
  });

  it('catches every form of such an import', () => {
    const driver = join(RUNTIME, 'namespace/some.driver.ts');
    const text = [
      "import { NetworkManager } from '../../networking';",
      "import type { DmRootfs } from '../../rootfs/dm-snapshot.store';",
      "export { EnvdClient } from '../../envd-client/envd.client';",
      "const x = require('../../sandbox/lifecycle');",
      "const y = await import('../../ids/id-ranges');",
      "import {\n  a,\n  b,\n} from '../../networking/dns';",
      "import { signal } from './proc';",
      "import { CgroupLimits } from '../../cgroups';",
      "import { ulid } from 'ulid';",
    ].join('\n');
    assert.deepEqual(resourceImports(driver, text), ['../../networking', '../../rootfs/dm-snapshot.store', '../../envd-client/envd.client', '../../sandbox/lifecycle', '../../ids/id-ranges', '../../networking/dns']);
  });
});

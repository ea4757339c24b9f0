import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { importCycles } from './import-cycles';

const REPO_ROOT = join(__dirname, '..', '..', '..');

describe('file-level import cycles', () => {
  it('there are none among the TypeScript sources of libs, services, tools and test', async () => {
    const { files, cycles } = await importCycles(REPO_ROOT, ['libs', 'services', 'tools', 'test']);
    // The whole repo was read, not an empty or misplaced tree.
    assert.ok(files > 300, `only ${files} files were read`);
    assert.deepEqual(
      cycles.map((c) => c.join(' → ')),
      [],
      'break each cycle by moving what both files need (a type, a token) to a file both can import',
    );
  });

  it('finds a cycle closed by a type-only import', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wrenn-cycles-'));
    try {
      writeFileSync(join(dir, 'caller.ts'), "import type { Service } from './service';\nexport interface Caller { service: Service }\n");
      writeFileSync(join(dir, 'service.ts'), "import { Caller } from './caller';\nexport class Service { run(c: Caller): Caller { return c; } }\n");
      writeFileSync(join(dir, 'alone.ts'), "import { Service } from './service';\nexport const service = new Service();\n");
      const { files, cycles } = await importCycles(dir, ['.']);
      assert.equal(files, 3);
      assert.deepEqual(cycles.map((c) => [...c].sort()), [['caller.ts', 'service.ts']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

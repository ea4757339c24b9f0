import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchingLines, platformSources, REPO_ROOT } from './source-scan';

/**
 * Only @wrenn/config reads the environment, so every variable is validated at start and
 * documented in one table. envd is the one exception: it is bundled into sandbox images without
 * the platform's libraries and has its own small config module. (scripts/*.mjs, plain Node boot
 * scripts, are not scanned.)
 */
const READERS = [/^libs\/config\/src\//, /^services\/envd\/src\/envd-config\.ts$/];

/**
 * A line that reads the environment. Writes are not reads: `wrenn start` and the test harnesses
 * put values in this process's environment for the config to find (`process.env.X = …`,
 * `process.env[name] = …`, `Object.assign(process.env, …)`), and a comment may name it.
 */
export function readsEnvironment(line: string): boolean {
  const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '').replace(/\/\*.*?\*\//g, '');
  const withoutWrites = code
    .replace(/process\.env(\.\w+|\[[^\]]+\])\s*=(?!=)/g, '')
    .replace(/Object\.assign\(\s*process\.env\s*,/g, '');
  return /process\s*\.\s*env\b|process\s*\[\s*['"]env['"]\s*\]/.test(withoutWrites);
}

describe('who reads the environment', () => {
  it('tells a read from a write or a comment', () => {
    for (const read of ['const x = process.env.FOO;', 'f(process.env)', 'process.env.A === "1"', "const { A } = process['env'];", 'x = { ...process.env, A: "1" }']) {
      assert.equal(readsEnvironment(read), true, read);
    }
    for (const other of ["process.env.A = '0';", 'process.env[name] = url;', 'Object.assign(process.env, env.env);', '// process.env.PATH', ' * inherit process.env on']) {
      assert.equal(readsEnvironment(other), false, other);
    }
  });

  it('is @wrenn/config alone (and envd\'s own config module)', () => {
    const sources = platformSources();
    assert.ok(sources.includes('libs/config/src/variables.ts') && sources.includes('services/envd/src/main.ts'), 'the scan sees the sources');
    const offenders = sources.filter((f) => !READERS.some((r) => r.test(f))).flatMap((f) => matchingLines(REPO_ROOT, f, readsEnvironment));
    assert.deepEqual(offenders, [], 'read configuration through @wrenn/config (loadConfig or variable) and add the variable to libs/config/src/variables.ts');
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The repository root, from a compiled file under libs/<name>/dist. */
export const REPO_ROOT = join(__dirname, '../../..');

/**
 * The TypeScript sources of the platform (services, libraries, tools), relative to the repo root:
 * no tests (`*.spec.ts`), no declarations, nothing built or installed.
 */
export function platformSources(root: string = REPO_ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'bundle' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) out.push(relative(root, path));
    }
  };
  for (const top of ['services', 'libs', 'tools']) {
    for (const pkg of readdirSync(join(root, top), { withFileTypes: true })) {
      if (pkg.isDirectory()) {
        try {
          walk(join(root, top, pkg.name, 'src'));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
  }
  return out.sort();
}

/** Each line of `file` that matches `test`, as `path:line: text`. */
export function matchingLines(root: string, file: string, test: (line: string) => boolean): string[] {
  return readFileSync(join(root, file), 'utf8')
    .split('\n')
    .flatMap((line, i) => (test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

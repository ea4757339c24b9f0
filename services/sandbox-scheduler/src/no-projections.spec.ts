import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The read models are the projector's alone (services/projector): a scheduler that ran
// projections again would race it for the checkpoints and need write grants it no longer has.
const ROOT = join(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('the scheduler runs no projections', () => {
  it('imports neither @wrenn/projections nor a projection runner', () => {
    const files = sources(join(ROOT, 'src'));
    assert.ok(files.length > 5, 'found the scheduler sources');
    const offenders = files.filter((file) => /@wrenn\/projections|ProjectionRunner|rebuildProjections/.test(readFileSync(file, 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('does not depend on @wrenn/projections', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: object; devDependencies?: object };
    assert.equal('@wrenn/projections' in { ...pkg.dependencies, ...pkg.devDependencies }, false);
  });
});

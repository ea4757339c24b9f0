import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_INIT } from './boot-config';
import { REPO_ROOT } from '@wrenn/host-agent-test-support';

const IMAGES = join(REPO_ROOT, 'images');

describe('Firecracker guest image recipe', () => {
  it('both scripts parse and are executable', () => {
    execFileSync('bash', ['-n', join(IMAGES, 'firecracker/build.sh')]);
    execFileSync('sh', ['-n', join(IMAGES, 'wrenn-init.sh')]);
    for (const f of ['firecracker/build.sh', 'wrenn-init.sh']) assert.ok(statSync(join(IMAGES, f)).mode & 0o100, `${f} is executable`);
  });

  it('builds on the base recipe, carries envd + Node, installs wrenn-init where the boot args point, and makes ext4 with mkfs -d', () => {
    const recipe = readFileSync(join(IMAGES, 'firecracker/build.sh'), 'utf8');
    assert.match(recipe, /images\/base\/build\.sh|\$images\/base\/build\.sh/);
    assert.match(recipe, /opt\/wrenn\/bin\/node/);
    assert.match(recipe, /opt\/wrenn\/envd/);
    assert.ok(recipe.includes(`"$root${GUEST_INIT}"`), `wrenn-init is installed at ${GUEST_INIT}`);
    assert.match(recipe, /mkfs\.ext4 .*-d "\$root"/);
    assert.match(recipe, /mv "\$work\/rootfs\.ext4" "\$target"/, 'renamed into place only when complete');
  });
});

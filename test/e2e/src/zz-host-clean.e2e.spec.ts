import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/**
 * Runs after every other suite: whatever the tests created on this host is gone again.
 * Sandboxes of the test runs live under /tmp/wrenn-t*; their ids start with sb_.
 */
describe('host after the suite', () => {
  it('has no mounts left by test sandboxes', () => {
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => /\/tmp\/wrenn-|sb_[0-9a-z]{26}/.test(l));
    assert.deepEqual(mounts, []);
  });
  it('has no sandbox processes left', () => {
    const out = execFileSync('ps', ['-eo', 'pid,args']).toString();
    const leftovers = out.split('\n').filter((l) => /\/tmp\/wrenn-t|sb_[0-9a-z]{26}/.test(l));
    assert.deepEqual(leftovers, []);
  });
  it('has no state directories left by test platforms', () => {
    assert.deepEqual(readdirSync('/tmp').filter((n) => n.startsWith('wrenn-t')), []);
  });
});

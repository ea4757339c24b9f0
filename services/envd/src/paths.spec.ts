import { Code, ConnectError } from '@connectrpc/connect';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolvePath } from './paths';
import { SandboxUser } from './users';

const user: SandboxUser = { name: 'user', uid: 1000, gid: 1000, groups: [], home: '/home/user', shell: '/bin/bash' };

describe('resolvePath (E2B envd path rules)', () => {
  it('takes the empty path as the home, and relative paths from the home', () => {
    assert.equal(resolvePath('', user), '/home/user');
    assert.equal(resolvePath('file.txt', user), '/home/user/file.txt');
    assert.equal(resolvePath('a/b/', user), '/home/user/a/b');
  });

  it('expands ~ and ~/ to the home', () => {
    assert.equal(resolvePath('~', user), '/home/user');
    assert.equal(resolvePath('~/x/y', user), '/home/user/x/y');
  });

  it('refuses ~name (another user\'s home)', () => {
    assert.throws(() => resolvePath('~root/x', user), (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument);
  });

  it('normalises ".." in relative paths, which may leave the home', () => {
    assert.equal(resolvePath('../other/f', user), '/home/other/f');
    assert.equal(resolvePath('../../../../etc/passwd', user), '/etc/passwd');
  });

  it('keeps absolute paths exactly as given, ".." included: the kernel resolves them', () => {
    assert.equal(resolvePath('/tmp/a/../b', user), '/tmp/a/../b');
    assert.equal(resolvePath('/etc/hosts', user), '/etc/hosts');
  });
});

import { Code, ConnectError } from '@connectrpc/connect';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configuredDefaultUser, setDefaultUser } from './envd-config';
import { basicAuthUser, defaultUserName, lookupUser, userFromHeaders } from './users';

describe('sandbox users', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envd-users-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const passwd = (text: string) => {
    const file = join(dir, `passwd-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, text);
    return file;
  };

  it('reads uid, gid, home and shell from a passwd file', () => {
    const file = passwd('root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1001::/home/user:/bin/sh\n');
    assert.deepEqual(lookupUser('user', file), { name: 'user', uid: 1000, gid: 1001, home: '/home/user', shell: '/bin/sh' });
    assert.equal(lookupUser('nobody-here', file), undefined);
    assert.equal(lookupUser('root', join(dir, 'missing')), undefined);
  });

  it('takes the user name from Basic auth as E2B\'s SDKs send it (user, empty password)', () => {
    assert.equal(basicAuthUser(`Basic ${Buffer.from('user:').toString('base64')}`), 'user');
    assert.equal(basicAuthUser(`Basic ${Buffer.from('root').toString('base64')}`), 'root');
    assert.equal(basicAuthUser('Bearer abc'), undefined);
    assert.equal(basicAuthUser(undefined), undefined);
  });

  it('defaults to E2B\'s `user` when the image has it, else root; the one POST /init set wins', () => {
    const saved = configuredDefaultUser();
    setDefaultUser(undefined);
    try {
      assert.equal(defaultUserName(passwd('root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n')), 'user');
      assert.equal(defaultUserName(passwd('root:x:0:0::/root:/bin/sh\n')), 'root');
      setDefaultUser('someone');
      assert.equal(defaultUserName(passwd('root:x:0:0::/root:/bin/sh\n')), 'someone');
    } finally {
      setDefaultUser(saved);
    }
  });

  it('refuses an unknown user as unauthenticated', () => {
    const headers = { authorization: `Basic ${Buffer.from('no-such-user-here:').toString('base64')}` };
    assert.throws(() => userFromHeaders(headers), (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated);
    assert.equal(userFromHeaders(headers, 'root').name, 'root'); // an explicit name (the /files username) comes first
  });
});

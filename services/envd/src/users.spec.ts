import { Code, ConnectError } from '@connectrpc/connect';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalSystem } from './system/local-system';
import { basicAuthUser, parseUser, Users } from './users';

describe('sandbox users', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envd-users-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (text: string) => {
    const path = join(dir, `f-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path, text);
    return path;
  };
  const usersOf = (passwd: string, defaults: { defaultUser?: string } = {}) => new Users(new LocalSystem({ passwd: file(passwd), group: join(dir, 'missing') }), defaults);

  it('reads uid, gid, home, shell and supplementary groups from passwd and group text', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1001::/home/user:/bin/sh\n';
    const group = 'root:x:0:\nsudo:x:27:user,other\nuser:x:1001:user\ndocker:x:999:other\n';
    assert.deepEqual(parseUser('user', passwd, group), { name: 'user', uid: 1000, gid: 1001, groups: [27], home: '/home/user', shell: '/bin/sh' });
    assert.equal(parseUser('nobody-here', passwd, group), undefined);
    assert.equal(parseUser('root', ''), undefined);
  });

  it('takes the user name from Basic auth as E2B\'s SDKs send it (user, empty password)', () => {
    assert.equal(basicAuthUser(`Basic ${Buffer.from('user:').toString('base64')}`), 'user');
    assert.equal(basicAuthUser(`Basic ${Buffer.from('root').toString('base64')}`), 'root');
    assert.equal(basicAuthUser('Bearer abc'), undefined);
    assert.equal(basicAuthUser(undefined), undefined);
  });

  it('defaults to E2B\'s `user` when the image has it, else root; the one POST /init set wins', async () => {
    assert.equal(await usersOf('root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n').defaultName(), 'user');
    assert.equal(await usersOf('root:x:0:0::/root:/bin/sh\n').defaultName(), 'root');
    const defaults: { defaultUser?: string } = {};
    const users = usersOf('root:x:0:0::/root:/bin/sh\n', defaults);
    defaults.defaultUser = 'someone';
    assert.equal(await users.defaultName(), 'someone');
  });

  it('refuses an unknown user as unauthenticated', async () => {
    const users = usersOf('root:x:0:0::/root:/bin/sh\n');
    const headers = { authorization: `Basic ${Buffer.from('no-such-user-here:').toString('base64')}` };
    await assert.rejects(users.fromHeaders(headers), (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated);
    assert.equal((await users.fromHeaders(headers, 'root')).name, 'root'); // an explicit name (the /files username) comes first
  });

  it('names owners by uid and gid, numbers for unknown ids', async () => {
    const names = await new Users(new LocalSystem({ passwd: file('root:x:0:0::/root:/bin/sh\n'), group: file('wheel:x:10:\n') }), {}).ownerNames();
    assert.equal(names.user(0), 'root');
    assert.equal(names.user(4242), '4242');
    assert.equal(names.group(10), 'wheel');
  });

  it('reuses a stamped read of the account files for process starts only, and reads again after forget or without a stamp', async () => {
    const root = 'root:x:0:0::/root:/bin/sh\n';
    let reads = 0;
    let stamp: string | undefined = 's1';
    const system = { readAccountFiles: async () => (reads++, { passwd: root, group: '', stamp }) } as unknown as LocalSystem;
    const users = new Users(system, {});
    const asRoot = { authorization: `Basic ${Buffer.from('root:').toString('base64')}` };
    assert.equal((await users.forSpawn(asRoot)).accountsStamp, 's1');
    assert.equal((await users.forSpawn(asRoot)).uid, 0);
    assert.equal(reads, 1, 'the second start read the files again');
    // Other requests never take the kept read, nor a stamp.
    assert.equal((await users.fromHeaders(asRoot)).accountsStamp, undefined);
    assert.equal(reads, 2);
    users.forget();
    stamp = undefined;
    assert.equal((await users.forSpawn(asRoot)).accountsStamp, undefined);
    await users.forSpawn(asRoot);
    assert.equal(reads, 4, 'a read without a stamp was reused');
  });
});

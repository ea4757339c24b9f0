import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemError, SystemUser } from '../sandbox-system';
import { InitChannel } from './init-channel';
import { InitSystem } from './init-system';

/**
 * The host's side against an init that breaks the protocol: a stand-in speaking the same
 * SOCK_SEQPACKET framing (Python's socket module has SEQPACKET and SCM_RIGHTS), answering each
 * request by its path argument with one kind of misbehaviour. Nothing it sends may hang a call,
 * leak an fd into this process, or be taken for a valid answer.
 */
const HOSTILE_INIT = String.raw`
import os, socket, struct, sys
path = sys.argv[1]
server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
server.bind(path)
server.listen(8)
def reply(c, id, kind, value, body=b'', fds=()):
    c.sendmsg([struct.pack('<IIi', id, kind, value) + body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('<%di' % len(fds), *fds))] if fds else [])
while True:
    c, _ = server.accept()
    while True:
        data = c.recv(200000)
        if not data:
            break
        id, op = struct.unpack('<II', data[:8])
        args = data[8:].split(b'\0')[:-1]
        what = args[-1].decode()
        if what == '/ok':
            reply(c, id, 0, 0, b'0\0' * 3 + b'5\0' + b'0\0')
        elif what == '/big':
            reply(c, id, 0, 0, b'x' * 70000)
        elif what == '/silent':
            pass
        elif what == '/wrong-id':
            fd = os.open('/dev/null', os.O_RDONLY)
            reply(c, id + 1000, 0, 0, b'', [fd])
            os.close(fd)
            reply(c, id, 0, 0, str(0o100644).encode() + b'\0' + b'0\0' * 4)
        elif what == '/unterminated':
            reply(c, id, 0, 0, b'abc')
        elif what == '/dir-fd':
            fd = os.open('/', os.O_RDONLY)
            reply(c, id, 0, 0, b'5\0', [fd])
            os.close(fd)
        elif what == '/two-fds':
            a, b = os.open('/dev/null', os.O_RDONLY), os.open('/dev/null', os.O_RDONLY)
            reply(c, id, 0, 0, b'5\0', [a, b])
            os.close(a); os.close(b)
        elif what == '/endless':
            for _ in range(20):
                reply(c, id, 2, 0, b'name\0' * 10)
            reply(c, id, 0, 0)
        elif what == '/exit':
            reply(c, id, 3, 0)
        elif what == '/slash-name':
            reply(c, id, 2, 0, b'../etc\0')
            reply(c, id, 0, 0)
        elif what == '/errno':
            reply(c, id, 1, 13, b'open\0')
        elif what == '/hangup':
            c.close()
            break
`;

const ROOT: SystemUser = { name: 'root', uid: 0, gid: 0, groups: [], home: '/root', shell: '/bin/sh' };
const openFds = () => readdirSync('/proc/self/fd').length;
/** Past the channel's idle close (50 ms), so fd counts compare like with like. */
const settle = () => new Promise((r) => setTimeout(r, 150));

describe('InitChannel and InitSystem against an init that breaks the protocol', { timeout: 60_000 }, () => {
  let dir: string;
  let socket: string;
  let init: ChildProcess;
  let system: InitSystem;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wrenn-hostile-init-'));
    socket = join(dir, 'init.sock');
    init = spawn('python3', ['-c', HOSTILE_INIT, socket], { stdio: 'inherit' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(existsSync(socket), 'the stand-in listens');
    system = new InitSystem(socket, { timeoutMs: 300, idleMs: 50, maxAnswerBytes: 100 });
  });
  after(async () => {
    await system?.close();
    init?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const rejects = (call: Promise<unknown>, code: string) => assert.rejects(call, (e: SystemError) => e instanceof SystemError && e.code === code);

  it('takes a well-formed answer', async () => {
    const entry = await system.entry('/ok', ROOT);
    assert.equal(entry.size, 5);
  });

  it('times out a request that gets no answer, and ignores an answer to nothing it asked', async () => {
    await rejects(system.entry('/silent', ROOT), 'ETIMEDOUT');
    await settle();
    const before = openFds();
    const entry = await system.entry('/wrong-id', ROOT);
    assert.equal(entry.type, 'file');
    await settle();
    assert.equal(openFds(), before, 'the fd that came with the stray answer was closed');
  });

  it('refuses malformed answers and closes every fd that came with them', async () => {
    await settle();
    const before = openFds();
    await rejects(system.entry('/unterminated', ROOT), 'EPROTO');
    await rejects(system.openRead('/dir-fd', ROOT), 'EPROTO');
    await rejects(system.openRead('/two-fds', ROOT), 'EPROTO');
    await rejects(system.readdir('/endless', ROOT), 'E2BIG');
    await rejects(system.readdir('/slash-name', ROOT), 'EPROTO');
    await rejects(system.entry('/exit', ROOT), 'EIO');
    await rejects(system.entry('/errno', ROOT), 'EACCES');
    await settle();
    assert.equal(openFds(), before);
  });

  it('drops a connection that sends a packet larger than the protocol allows, and reconnects', async () => {
    await rejects(system.entry('/big', ROOT), 'ECONNRESET');
    await rejects(system.entry('/hangup', ROOT), 'ECONNRESET');
    assert.equal((await system.entry('/ok', ROOT)).size, 5, 'a new connection serves');
  });

  it('closes an idle channel and holds no fd for it', async () => {
    const channel = new InitChannel(socket, { idleMs: 50 });
    await settle();
    const before = openFds();
    await channel.request('entry', ['0', '0', '', '/ok']);
    assert.equal(openFds(), before + 1, 'the socket while in use');
    await settle();
    assert.equal(openFds(), before, 'closed when idle');
    channel.close();
    await rejects(channel.request('entry', ['0', '0', '', '/ok']), 'ECANCELED');
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { eventually, FORK_BOMB } from '@wrenn/testing';
import { Platform, startPlatform } from './platform';

const EAGAIN = 11;


/**
 * Security properties a user relies on. Each test fails if the isolation it names breaks.
 */
describe('sandbox isolation', () => {
  let p: Platform;
  let a = '';
  let b = '';
  const sh = async (id: string, script: string, timeoutSec = 20) => {
    const res = await p.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'sh', args: ['-c', script], timeout_sec: timeoutSec });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { stdout: string; stderr: string; exit_code: number; timed_out: boolean };
  };

  before(async () => {
    p = await startPlatform('isolation');
    a = (await p.api('POST', '/v1/sandboxes', { memory_mb: 128 })).body.id;
    // Room for a thousand processes' kernel memory, so the fork bomb meets the pids limit first.
    b = (await p.api('POST', '/v1/sandboxes', { memory_mb: 1024 })).body.id;
  });
  after(async () => {
    for (const id of [a, b]) if (id) await p.api('DELETE', `/v1/sandboxes/${id}`).catch(() => undefined);
    await p.stop();
  });

  it('sees only its own processes', async () => {
    const r = await sh(a, 'ls /proc | grep -E "^[0-9]+$" | wc -l');
    assert.ok(Number(r.stdout) <= 6, `saw ${r.stdout.trim()} processes`);
    const hostPid = await sh(a, `test -e /proc/${process.pid} && echo visible || echo hidden`);
    assert.equal(hostPid.stdout.trim(), 'hidden');
  });

  it('has its own hostname and no host file descriptors', async () => {
    assert.equal((await sh(a, 'hostname')).stdout.trim(), a);
    // PID 1 (the init, serving the host's envd on its socket) is not dumpable: not even the
    // sandbox's root may follow its descriptors.
    const followed = await sh(a, 'for f in $(ls /proc/1/fd 2>/dev/null); do readlink /proc/1/fd/$f >/dev/null 2>&1 && echo "fd-$f-followed"; done; echo hidden');
    assert.equal(followed.stdout.trim(), 'hidden');
    // What a command is started with: its stdio, and nothing of the init's (no socket).
    const fds = (await sh(a, 'ls -l /proc/$$/fd')).stdout;
    assert.match(fds, / 1 -> /, fds);
    assert.doesNotMatch(fds, /socket:/, fds);
  });

  it("cannot reach the host's PostgreSQL on 127.0.0.1:5432", async () => {
    const r = await sh(a, 'timeout 3 bash -c "echo > /dev/tcp/127.0.0.1/5432" && echo open || echo closed');
    assert.equal(r.stdout.trim(), 'closed');
    const gw = (await sh(a, "ip -4 route show default | awk '{print $3}'")).stdout.trim();
    const viaGateway = await sh(a, `timeout 3 bash -c "echo > /dev/tcp/${gw}/5432" && echo open || echo closed`);
    assert.equal(viaGateway.stdout.trim(), 'closed');
  });

  it('cannot reach another sandbox', async () => {
    // perl-base is in every Debian image (a sandbox has no Node of its own).
    await sh(b, `nohup perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalPort => 7000, Listen => 5, ReuseAddr => 1) or die; while (my $c = $s->accept) { print $c "hi"; close $c }' >/dev/null 2>&1 &`);
    const ipB = (await sh(b, "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1")).stdout.trim();
    assert.match(ipB, /^\d+\.\d+\.\d+\.\d+$/);
    // B's server is up (B can reach itself, once it listens: tried for up to 10 s) …
    const self = `for i in $(seq 100); do out=$(curl -s -m 3 telnet://${ipB}:7000 </dev/null) && [ "$out" = hi ] && break; sleep 0.1; done; printf %s "$out"`;
    assert.equal((await sh(b, self)).stdout, 'hi');
    // … but A cannot reach it.
    const r = await sh(a, `curl -s -m 3 telnet://${ipB}:7000 </dev/null; echo "exit=$?"`);
    assert.notEqual(r.stdout.trim(), 'hiexit=0');
    assert.doesNotMatch(r.stdout, /^hi/);
  });

  describe('a server on the host', () => {
    let server: Server;
    before(async () => {
      server = createServer((_req, res) => res.end('from the host'));
      await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it("is not reachable on the sandbox's gateway (the host's veth address)", async () => {
      const port = (server.address() as AddressInfo).port;
      const r = await sh(a, `curl -s -m 3 http://$(ip -4 route show default | awk '{print $3}'):${port}/; echo "exit=$?"`);
      assert.doesNotMatch(r.stdout, /from the host/);
      assert.doesNotMatch(r.stdout, /exit=0/);
    });

    it("is not reachable on the host's other addresses", async () => {
      const port = (server.address() as AddressInfo).port;
      const gwB = (await sh(b, "ip -4 route show default | awk '{print $3}'")).stdout.trim();
      const r = await sh(a, `curl -s -m 3 http://${gwB}:${port}/; echo "exit=$?"`);
      assert.doesNotMatch(r.stdout, /from the host/);
    });
  });

  it('has DNS configured', async () => {
    assert.match((await sh(a, 'cat /etc/resolv.conf')).stdout, /^nameserver \d+\.\d+\.\d+\.\d+/m);
  });

  it('refuses forks past the pids limit while they live, and answers throughout', async () => {
    const file = (path: string, init: RequestInit = {}) =>
      fetch(`${p.url}/v1/sandboxes/${b}/files?path=${encodeURIComponent(path)}`, { ...init, headers: p.authHeaders() });
    assert.equal((await file('/tmp/bomb.pl', { method: 'PUT', body: FORK_BOMB })).status, 200);
    // In flight until released: the bomb's children hold their pids until then.
    const bomb = sh(b, 'exec perl /tmp/bomb.pl /tmp 5000', 60);
    bomb.catch(() => undefined); // awaited below
    // Read through the files API: with every pid of the user's commands taken, no command could start.
    const result = await eventually(async () => {
      const res = await file('/tmp/result');
      return res.status === 200 ? res.text() : undefined;
    }, 60_000, 'the fork bomb to be refused a fork');
    const [children, errno] = result.trim().split(' ').map(Number);
    assert.equal(errno, EAGAIN, `the refused fork failed with EAGAIN (errno ${errno}, after ${children} children)`);
    assert.ok(children >= 1000 && children < 1024, `stopped by the pids limit of 1024 after ${children} children`);
    // envd kept a reserve of its own: it answers while the children hold every pid of the limit.
    const metrics = await p.api('GET', `/v1/sandboxes/${b}/metrics`);
    assert.equal(metrics.status, 200);
    assert.ok(metrics.body.pids > children && metrics.body.pids <= 1024 + 64, `pids at the limit: ${metrics.body.pids}`);
    assert.equal((await file('/tmp/release', { method: 'PUT', body: 'go' })).status, 200);
    const r = await bomb;
    assert.deepEqual([r.exit_code, r.stdout], [0, `started ${children}, errno ${EAGAIN}\n`], JSON.stringify(r));
    // The bomb waited for every child: the sandbox's pids are free again.
    assert.equal((await sh(b, 'echo still alive')).stdout, 'still alive\n');
  });

  it('OOM-kills a memory hog inside the sandbox while the platform keeps running', async () => {
    const r = await sh(a, `perl -e 'my @a; push @a, "x" x (1 << 20) while 1'; echo "exit=$?"`, 60);
    assert.match(r.stdout, /exit=137/);
    assert.equal((await p.api('GET', '/healthz')).status, 200);
    assert.equal((await sh(a, 'echo after oom')).stdout, 'after oom\n');
  });

  it('never lets a ".." path or an absolute symlink reach outside the sandbox root', async () => {
    await sh(a, 'ln -sfn / /root/escape && mkdir -p /root/d');
    // The symlink resolves inside the sandbox: its own /etc/hostname, not the host's.
    const viaLink = await fetch(`${p.url}/v1/sandboxes/${a}/files?path=${encodeURIComponent('/root/escape/etc/hostname')}`, { headers: p.authHeaders() });
    assert.equal(viaLink.status, 200);
    assert.equal(await viaLink.text(), `${a}\n`);
    const up = await fetch(`${p.url}/v1/sandboxes/${a}/files?path=${encodeURIComponent('/root/d/../../../../../../tmp/wrenn-escape-probe')}`, {
      method: 'PUT',
      headers: p.authHeaders(),
      body: 'probe',
    });
    assert.equal(up.status, 200);
    assert.equal(require('node:fs').existsSync('/tmp/wrenn-escape-probe'), false, 'nothing written on the host');
    // ".." stops at the sandbox's own root.
    assert.equal((await sh(a, 'cat /tmp/wrenn-escape-probe')).stdout, 'probe');
  });
});

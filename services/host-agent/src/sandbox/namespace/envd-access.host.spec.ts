import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { createLogger } from '@wrenn/logger';
import { CgroupManager } from '../../cgroups';
import { NetworkManager } from '../../networking';
import { SandboxOrchestrator } from '../../sandbox/sandbox-orchestrator';
import { EnvdClient, envdClientFor } from '../../envd-client/envd.client';
import { Code, ConnectError } from '@connectrpc/connect';
import { NamespaceRuntime } from './namespace-sandboxes';
import { unusedSlotCidr } from '../../networking';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(217);

const IMAGE_DIR = process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images';
const KEY = `e${Math.random().toString(36).slice(2, 6)}`;
const GROUP = `wrenn-${KEY}`;

describe("a namespace sandbox's envd is the host's: nothing in the sandbox can reach it or its token (root, kernel)", { timeout: 180_000 }, () => {
  let stateDir: string;
  let network: NetworkManager;
  let runtime: NamespaceRuntime;
  let orchestrator: SandboxOrchestrator;
  const id = `sb_${ulid().toLowerCase()}`;
  const clients: EnvdClient[] = [];

  const exec = async (user: 'root' | 'user', cmd: string, args: string[]) => orchestrator.exec({ sandboxId: id, cmd, args, user, timeoutSec: 20 });
  const exists = async (path: string) => (await exec('root', 'test', ['-e', path])).exitCode === 0;
  /** Whether a TCP connect from inside the sandbox to address:port succeeds (bash's /dev/tcp). */
  const connects = async (address: string, port: number) =>
    (await exec('root', 'timeout', ['3', 'bash', '-c', 'exec 3<>"/dev/tcp/$0/$1"', address, String(port)])).exitCode === 0;

  before(async () => {
    stateDir = await mkdtemp('/tmp/wrenn-envd-access-');
    network = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 0 });
    runtime = new NamespaceRuntime({
      stateDir,
      imageDir: IMAGE_DIR,
      network,
      cgroups: new CgroupManager({ group: GROUP }),
      envdHost: {},
    });
    orchestrator = new SandboxOrchestrator(runtime, createLogger('envd-access-test'));
    await orchestrator.start();
    await orchestrator.create({ commandId: ulid(), spec: { sandboxId: id, teamId: 't', template: 'base', vcpus: 1, memoryMb: 256 } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await orchestrator?.destroy({ commandId: ulid(), sandboxId: id }).catch(() => undefined);
    await orchestrator?.shutdown().catch(() => undefined);
    await network?.stop({ removeHostRules: true }).catch(() => undefined);
    await new CgroupManager({ group: GROUP }).removeGroup().catch(() => undefined);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('the platform still runs commands as root and as user', async () => {
    assert.deepEqual([(await exec('root', 'id', ['-u'])).stdout, (await exec('user', 'id', ['-u'])).stdout], ['0\n', '1000\n']);
  });

  it("runs a command as the user's account is now: a change made by the command before is seen at once", async () => {
    const idOfUser = async () => (await exec('user', 'id', ['-u'])).stdout;
    assert.equal(await idOfUser(), '1000\n');
    // In place (same inode, same size): only the file's times tell the change.
    const edit = (from: string, to: string) => exec('root', '/bin/sh', ['-c', `sed 's/^user:x:${from}:/user:x:${to}:/' /etc/passwd > /tmp/passwd && cat /tmp/passwd > /etc/passwd`]);
    try {
      assert.equal((await edit('1000', '1234')).exitCode, 0);
      assert.equal(await idOfUser(), '1234\n', 'the command ran as the user read before the change');
    } finally {
      await edit('1234', '1000');
    }
    assert.equal(await idOfUser(), '1000\n');
  });

  it('needs no Node: nothing bound at /opt/wrenn, no node process, PID 1 is the init alone', async () => {
    assert.equal(await exists('/opt/wrenn/bin/node'), false, 'a Node binary is in the sandbox');
    const mounts = (await exec('root', 'cat', ['/proc/self/mountinfo'])).stdout;
    assert.ok(mounts.includes(' / / '), 'the probe read the mount table');
    assert.ok(!/ \/opt\/wrenn/.test(mounts), `something is bound at /opt/wrenn:\n${mounts}`);
    const comms = (await exec('root', '/bin/sh', ['-c', 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm)"; done'])).stdout;
    assert.ok(!/ (node|tini)$/m.test(comms), comms);
    assert.match(comms, /^1 wrenn-/m, comms); // the helper's init (agent mode), nothing of the image
  });

  it("nothing in the sandbox listens on envd's port, at any of its addresses (a positive control listens beside it)", async () => {
    const { envdUrl } = await runtime.endpoint(id);
    const address = new URL(envdUrl).hostname;
    for (const target of [address, '127.0.0.1']) assert.equal(await connects(target, 49983), false, `something answers at ${target}:49983`);
    // The probe can connect: a listener of the sandbox's own on another port answers it.
    await exec('root', '/bin/sh', ['-c', 'nohup perl -MIO::Socket::INET -e \'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:7001", Listen => 1, ReuseAddr => 1) or die; $s->accept for 1..5\' >/dev/null 2>&1 &']);
    let open = false;
    for (let i = 0; i < 20 && !open; i++) open = await connects('127.0.0.1', 7001);
    assert.ok(open, 'the connect probe never succeeds');
  });

  it("the host's envd socket and the init's socket are not in the sandbox's filesystem", async () => {
    for (const path of [join(stateDir, 'envd.sock'), join(stateDir, 'sandboxes', id, 'init.sock')]) {
      assert.equal(statSync(path).isSocket(), true, `${path} is there on the host`);
      assert.equal(statSync(path).mode & 0o777, 0o600, `${path} is root's alone`);
      assert.equal(await exists(path), false, `${path} is visible inside`);
    }
  });

  it('the token is nowhere in the sandbox, not even for its root; a wrong one is refused by the host', async () => {
    const { accessToken } = await runtime.endpoint(id);
    assert.match(accessToken ?? '', /^[A-Za-z0-9_-]{43}$/);
    // Every process's environment and command line, as root sees them, and the usual places.
    const sweep = 'for p in /proc/[0-9]*; do cat "$p/environ" "$p/cmdline" 2>/dev/null; echo; done; env; cat /proc/1/environ; grep -rs . /run /etc 2>/dev/null';
    const asRoot = await exec('root', '/bin/sh', ['-c', sweep]);
    assert.ok(asRoot.stdout.length > 1000, 'the sweep read something');
    assert.ok(!asRoot.stdout.includes(accessToken!), "envd's token is readable inside the sandbox");
    assert.ok(!asRoot.stdout.includes('ENVD_ACCESS_TOKEN'), 'the variable is inside the sandbox');
    const guessed = envdClientFor(id, { ...(await runtime.endpoint(id)), accessToken: 'guessed-token' });
    clients.push(guessed);
    await assert.rejects(guessed.exec({ cmd: 'true', args: [], user: 'root' }, 5), (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated);
  });

  it('the host keeps the token in the sandbox\'s root-only record: meta.json 0600 in a 0700 directory', async () => {
    const dir = join(stateDir, 'sandboxes', id);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'meta.json')).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).envdAccessToken, (await runtime.endpoint(id)).accessToken);
  });
});

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
import { NamespaceRuntime } from './namespace-sandboxes';
import { unusedSlotCidr } from '../../networking';

/** Slot addresses no other network on this host uses (an operator's Wrenn, a killed run's leftovers). */
const SLOT_CIDR = unusedSlotCidr(217);

const IMAGE_DIR = process.env.WRENN_IMAGE_DIR ?? '/var/lib/wrenn/images';
const KEY = `e${Math.random().toString(36).slice(2, 6)}`;
const GROUP = `wrenn-${KEY}`;

/**
 * What a process inside the sandbox sends to envd, run with the sandbox's own Node: a Connect
 * process.Process/Start as root (enveloped JSON, as any Connect client sends it) that writes the
 * caller's uid as root to `marker`, and an /files upload as root to `marker`.up. Prints the answers.
 * Arguments: envd base URL, token ("" for none), marker path.
 */
const ATTACK = String.raw`
(async () => {
  const [base, token, marker] = process.argv.slice(1);
  const auth = token ? { 'x-access-token': token } : {};
  const message = Buffer.from(JSON.stringify({ process: { cmd: '/bin/sh', args: ['-c', 'id -u > ' + marker] } }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const start = await fetch(base + '/process.Process/Start', {
    method: 'POST',
    headers: { 'content-type': 'application/connect+json', 'connect-protocol-version': '1', authorization: 'Basic ' + Buffer.from('root:').toString('base64'), ...auth },
    body: frame,
  });
  const startBody = await start.text();
  const upload = await fetch(base + '/files?username=root&path=' + encodeURIComponent(marker + '.up'), {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...auth },
    body: 'planted',
  });
  console.log(JSON.stringify({ start: start.status, startBody, upload: upload.status, uploadBody: await upload.text() }));
})().catch((e) => { console.error(e); process.exit(2); });
`;

interface AttackResult {
  start: number;
  startBody: string;
  upload: number;
  uploadBody: string;
}

describe('envd inside a namespace sandbox obeys only the host (root, kernel)', { timeout: 180_000 }, () => {
  let stateDir: string;
  let network: NetworkManager;
  let runtime: NamespaceRuntime;
  let orchestrator: SandboxOrchestrator;
  const id = `sb_${ulid().toLowerCase()}`;

  const exec = async (user: 'root' | 'user', cmd: string, args: string[]) => orchestrator.exec({ sandboxId: id, cmd, args, user, timeoutSec: 20 });
  const attack = async (user: 'root' | 'user', base: string, token: string, marker: string): Promise<AttackResult> => {
    const r = await exec(user, '/opt/wrenn/bin/node', ['-e', ATTACK, base, token, marker]);
    assert.equal(r.exitCode, 0, r.stderr);
    return JSON.parse(r.stdout) as AttackResult;
  };
  const exists = async (path: string) => (await exec('root', 'test', ['-e', path])).exitCode === 0;

  before(async () => {
    stateDir = await mkdtemp('/tmp/wrenn-envd-access-');
    network = new NetworkManager({ agentKey: KEY, cidr: SLOT_CIDR, poolSize: 0 });
    runtime = new NamespaceRuntime({
      stateDir,
      imageDir: IMAGE_DIR,
      network,
      cgroups: new CgroupManager({ group: GROUP }),
      envd: { nodeBinary: process.execPath, bundleDir: join(__dirname, '../../../../envd/bundle') },
    });
    orchestrator = new SandboxOrchestrator(runtime, createLogger('envd-access-test'));
    await orchestrator.start();
    await orchestrator.create({ commandId: ulid(), spec: { sandboxId: id, teamId: 't', template: 'base', vcpus: 1, memoryMb: 256 } });
  });
  after(async () => {
    await orchestrator?.destroy({ commandId: ulid(), sandboxId: id }).catch(() => undefined);
    await orchestrator?.shutdown().catch(() => undefined);
    await network?.stop({ removeHostRules: true }).catch(() => undefined);
    await new CgroupManager({ group: GROUP }).removeGroup().catch(() => undefined);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('the platform still runs commands as root and as user', async () => {
    assert.deepEqual([(await exec('root', 'id', ['-u'])).stdout, (await exec('user', 'id', ['-u'])).stdout], ['0\n', '1000\n']);
  });

  it('an unprivileged process cannot make envd start a process or write a file as root (401), at any of its addresses', async () => {
    const { envdUrl } = await runtime.endpoint(id);
    for (const base of [envdUrl, 'http://127.0.0.1:49983']) {
      const marker = `/tmp/pwned-${ulid().toLowerCase()}`;
      for (const token of ['', 'guessed-token']) {
        const r = await attack('user', base, token, marker);
        assert.equal(r.start, 401, `${base} with token "${token}": ${r.startBody}`);
        assert.equal(JSON.parse(r.startBody).code, 'unauthenticated');
        assert.equal(r.upload, 401, r.uploadBody);
        assert.equal(JSON.parse(r.uploadBody).reason, token ? 'access_token_invalid' : 'access_token_missing');
      }
      assert.equal(await exists(marker), false, 'envd started a process for an unprivileged caller');
      assert.equal(await exists(`${marker}.up`), false, 'envd wrote a file for an unprivileged caller');
    }
  });

  it('the same requests with the host\'s token do run as root (so the refusals above are the token\'s doing)', async () => {
    const { envdUrl, accessToken } = await runtime.endpoint(id);
    const marker = `/tmp/control-${ulid().toLowerCase()}`;
    const r = await attack('user', envdUrl, accessToken!, marker);
    assert.equal(r.start, 200, r.startBody);
    assert.equal(r.upload, 200, r.uploadBody);
    assert.equal((await exec('root', 'cat', [marker])).stdout, '0\n');
    assert.equal((await exec('root', 'stat', ['-c', '%u', `${marker}.up`])).stdout, '0\n');
  });

  it('no process but root\'s can read the token inside the sandbox; commands do not inherit it', async () => {
    const { accessToken } = await runtime.endpoint(id);
    assert.match(accessToken ?? '', /^[A-Za-z0-9_-]{43}$/);
    // Every process's environment and command line, as each user sees them.
    const sweep = 'for p in /proc/[0-9]*; do cat "$p/environ" "$p/cmdline" 2>/dev/null; echo; done; env';
    const asUser = await exec('user', '/bin/sh', ['-c', sweep]);
    assert.ok(!asUser.stdout.includes(accessToken!), 'an unprivileged process read envd\'s token');
    assert.ok(!asUser.stdout.includes('ENVD_ACCESS_TOKEN'), 'an unprivileged process saw the variable');
    assert.notEqual((await exec('user', 'cat', ['/proc/1/environ'])).exitCode, 0);
    const rootEnv = await exec('root', '/bin/sh', ['-c', 'env']);
    assert.ok(!rootEnv.stdout.includes(accessToken!), 'a command inherited the token');
    // Root in the sandbox can read envd's start environment: it owns envd anyway. (A positive
    // control: the sweep above would have found the token had it been readable.)
    const asRoot = await exec('root', '/bin/sh', ['-c', sweep]);
    assert.ok(asRoot.stdout.includes(accessToken!));
  });

  it('the host keeps the token in the sandbox\'s root-only record: meta.json 0600 in a 0700 directory', async () => {
    const dir = join(stateDir, 'sandboxes', id);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'meta.json')).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).envdAccessToken, (await runtime.endpoint(id)).accessToken);
  });
});
